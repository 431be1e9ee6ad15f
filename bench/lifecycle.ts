// lifecycle: create/start/stop/rm cycles of the idle hello kernel through the daemon, 4 in parallel,
// against bare QEMU start/stop cycles with the same argv, in batches of 20 in ABBA order; each
// figure is the median over the batches.
import { killOnExitSignal } from '../test/helpers/cleanup.js';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from '../src/vmm/qemu/qmp.js';
import { abba, bareBootDir, daemonWithHello, header, median, now, round } from './harness.js';
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
    const cwd = bareBootDir(args, dir, kernel);
    const child = spawn(args[0]!, args.slice(1), { detached: true, stdio: 'ignore', ...(cwd && { cwd }) });
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

export async function lifecycle(rounds = 10, batch = 20): Promise<Record<string, number>> {
  header('lifecycle', { rounds, cycles_per_round: batch, parallel: PARALLEL });
  const d = await daemonWithHello();
  const daemonCpu: number[] = [];
  try {
    const { id } = await d.client.createInstance({ image: 'hello', args: ['idle'], name: 'argv-source' });
    await d.client.startInstance(id);
    const detail = await d.client.inspectInstance(id);
    const socketDir = join(d.root, 'sock');
    const kernel = join(mkdtempSync(join(tmpdir(), 'cunik-k-')), 'kernel');
    copyFileSync(join(detail.paths.dir, 'kernel'), kernel);
    await d.client.removeInstance(id, true);
    const perS = await abba(rounds, {
      daemon: async () => {
        const cpu0 = cpuMs(d.proc.pid!);
        const s = await inParallel(batch, () => daemonCycle(d));
        daemonCpu.push((cpuMs(d.proc.pid!) - cpu0) / batch);
        return batch / s;
      },
      bare: async () => batch / (await inParallel(batch, () => bareCycle(detail.vm.argv, detail.paths.dir, socketDir, kernel))),
    });
    const leftoverDirs = readdirSync(join(d.root, 'instances')).length;
    const leftoverSockets = existsSync(socketDir) ? readdirSync(socketDir).length : 0;
    const ps = spawn('pgrep', ['-f', join(d.root, 'instances')]);
    let out = '';
    ps.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((r) => ps.once('exit', r));
    const leftoverProcesses = out.trim() ? out.trim().split('\n').length : 0;
    const cycles_per_s = median(perS.daemon);
    const bare_cycles_per_s = median(perS.bare);
    const result = {
      cycles_per_s: round(cycles_per_s),
      bare_cycles_per_s: round(bare_cycles_per_s),
      ratio: round(cycles_per_s / bare_cycles_per_s, 3),
      daemon_cpu_ms_per_cycle: round(median(daemonCpu), 1),
      leftover_processes: leftoverProcesses,
      leftover_dirs: leftoverDirs,
      leftover_sockets: leftoverSockets,
    };
    rmSync(join(kernel, '..'), { recursive: true, force: true });
    if (leftoverProcesses || leftoverDirs || leftoverSockets) throw new Error(`lifecycle left things behind: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await d.stop();
  }
}
