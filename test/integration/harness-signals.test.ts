// A benchmark or test killed by SIGTERM or SIGINT (a CI timeout, Ctrl-C) takes its daemon and
// every VM it started with it: no cunikd, cunik-spawner, cunik-shim or QEMU of its own is left.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repo, waitFor, waitGone } from '../helpers/daemon.js';

interface Proc {
  pid: number;
  ppid: number;
  cmdline: string;
}

function processes(): Proc[] {
  const all: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      all.push({ pid: Number(name), ppid, cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

/** Every process below `root` (children, their children...). */
function descendants(root: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

/** Still there with the same command line (a pid reused meanwhile is another process). */
function survivors(procs: Proc[]): Proc[] {
  return procs.filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') return false;
      return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0').join(' ') === p.cmdline;
    } catch {
      return false;
    }
  });
}

async function killMidRun(args: string[], signal: NodeJS.Signals, busy: (procs: Proc[]) => boolean): Promise<void> {
  const child = spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string | null>((r) => child.once('exit', (code, sig) => r(code ?? sig)));
  let before: Proc[] = [];
  try {
    before = await waitFor(`${args.join(' ')} to have its daemon and VMs up`, () => {
      const procs = descendants(child.pid!);
      return busy(procs) ? procs : undefined;
    }, 60_000);
    child.kill(signal);
    const code = await exited;
    // The VMs' shims write their exit files once QEMU is gone: give them a moment to go too.
    await waitGone(before.map((p) => p.pid), 10_000);
    assert.deepEqual(survivors(before).map((p) => p.cmdline), [], `left behind after ${signal}`);
    assert.equal(code, signal === 'SIGTERM' ? 143 : 130, `exit status after ${signal} (stderr: ${err})`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    for (const p of survivors(before)) process.kill(p.pid, 'SIGKILL'); // what a failed run left
  }
}

const qemu = (procs: Proc[]): Proc[] => procs.filter((p) => p.cmdline.startsWith('qemu-system'));

test('the lifecycle benchmark killed by SIGTERM while its daemon and bare QEMUs run', async () => {
  // Both kinds at once: the daemon's VMs (under cunik-shim) and the bench's own bare QEMUs.
  await killMidRun([join('dist', 'bench', 'index.js'), 'lifecycle'], 'SIGTERM', (procs) =>
    procs.some((p) => p.cmdline.includes('cunikd')) && qemu(procs).some((p) => p.cmdline.includes('cunik-bare-')),
  );
});

test('an integration test file killed by SIGINT while its daemon runs an instance', async () => {
  await killMidRun([join('dist', 'test', 'integration', 'leaks.test.js')], 'SIGINT', (procs) => procs.some((p) => p.cmdline.includes('cunikd')) && qemu(procs).length > 0);
});
