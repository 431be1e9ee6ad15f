// lifecycle: create/start/stop/rm cycles of the idle hello kernel through the daemon, 4 in parallel,
// against bare QEMU start/stop cycles with the same argv, in alternating batches of one run.
import { killOnExitSignal } from '../test/helpers/cleanup.js';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from '../src/vmm/qemu/qmp.js';
import { daemonWithHello, now, round } from './harness.js';
import type { TestDaemon } from '../test/helpers/daemon.js';

const PARALLEL = 4;

/** CPU time (user + system) a process has used so far, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime (fields 14, 15) in USER_HZ (100)
}

async function daemonCycle(d: TestDaemon): Promise<void> {
  const { id } = await d.client.createInstance({ image: 'hello', args: ['idle'] });
  await d.client.startInstance(id);
  await d.client.stopInstance(id);
  await d.client.removeInstance(id);
}

/** The same VM without the daemon: spawn with the daemon's argv, wait until QMP answers, SIGTERM, wait. */
async function bareCycle(argv: string[], instanceDir: string, socketDir: string, kernel: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-bare-'));
  const sock = mkdtempSync(join(tmpdir(), 'ck-'));
  try {
    writeFileSync(join(dir, 'console.log'), '');
    const args = argv.map((a) => (a === join(instanceDir, 'kernel') ? kernel : a.split(instanceDir).join(dir).split(socketDir).join(sock)));
    const qmpPath = /unix:([^,]+)/.exec(args[args.indexOf('-qmp') + 1]!)![1]!;
    const child = spawn(args[0]!, args.slice(1), { detached: true, stdio: 'ignore' });
    killOnExitSignal(child, true); // a killed bench leaves no VM behind
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const qmp = await QmpClient.connect(qmpPath, { timeoutMs: 10_000 });
      qmp.close();
      child.kill('SIGTERM');
    } catch (err) {
      child.kill('SIGKILL'); // a failed cycle must not leave its VM behind
      throw err;
    } finally {
      await exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(sock, { recursive: true, force: true });
  }
}

async function inParallel(total: number, cycle: () => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next++ < total) await cycle();
    }),
  );
  return (now() - t0) / 1000;
}

export async function lifecycle(cycles = 200): Promise<Record<string, number>> {
  const d = await daemonWithHello();
  let daemonS = 0;
  let bareS = 0;
  let daemonCpu = 0;
  try {
    const { id } = await d.client.createInstance({ image: 'hello', args: ['idle'], name: 'argv-source' });
    await d.client.startInstance(id);
    const detail = await d.client.inspectInstance(id);
    const socketDir = join(d.root, 'sock');
    const kernel = join(mkdtempSync(join(tmpdir(), 'cunik-k-')), 'kernel');
    copyFileSync(join(detail.paths.dir, 'kernel'), kernel);
    await d.client.removeInstance(id, true);
    // Alternate batches so both sides see the same machine conditions.
    const batch = 20;
    for (let done = 0; done < cycles; done += batch) {
      const size = Math.min(batch, cycles - done);
      const cpu0 = cpuMs(d.proc.pid!);
      daemonS += await inParallel(size, () => daemonCycle(d));
      daemonCpu += cpuMs(d.proc.pid!) - cpu0;
      bareS += await inParallel(size, () => bareCycle(detail.vm.argv, detail.paths.dir, socketDir, kernel));
    }
    const leftoverDirs = readdirSync(join(d.root, 'instances')).length;
    const leftoverSockets = existsSync(socketDir) ? readdirSync(socketDir).length : 0;
    const ps = spawn('pgrep', ['-f', join(d.root, 'instances')]);
    let out = '';
    ps.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => ps.once('exit', r));
    const leftoverProcesses = out.trim() ? out.trim().split('\n').length : 0;
    const result = {
      cycles,
      parallel: PARALLEL,
      cycles_per_s: round(cycles / daemonS),
      bare_cycles_per_s: round(cycles / bareS),
      ratio: round(bareS / daemonS, 3),
      daemon_cpu_ms_per_cycle: round(daemonCpu / cycles, 1),
      leftover_processes: leftoverProcesses,
      leftover_dirs: leftoverDirs,
      leftover_sockets: leftoverSockets,
      firecracker_reference_per_s: 10,
    };
    rmSync(join(kernel, '..'), { recursive: true, force: true });
    if (leftoverProcesses || leftoverDirs || leftoverSockets) throw new Error(`lifecycle left things behind: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await d.stop();
  }
}
