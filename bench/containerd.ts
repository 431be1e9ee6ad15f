// containerd: `ctr run --rm` of the hello image through cunik-runc (containerd's stock runc shim
// with --runc-binary) against `cunik run --rm hello` through a daemon, ABBA, medians; and the
// memory of one idle task: cunik-runc's processes (cunik-shim + QEMU) against a cunikd instance's
// (cunik-shim + QEMU), PSS. containerd's own per-task shim (containerd-shim-runc-v2) is reported
// beside it: it is what every containerd task costs, containers included.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startContainerd } from '../test/helpers/containerd.js';
import { cli, repo, waitFor } from '../test/helpers/daemon.js';
import { abba, daemonWithHello, header, median, now, round } from './harness.js';
import { pssKiB } from './memcg.js';

const RUNTIME = ['--runtime', 'io.containerd.runc.v2', '--runc-binary', join(repo, 'bin', 'cunik-runc')];

/** Live processes whose command line contains `marker`. */
function processesNaming(marker: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  }).map(Number);
}

const pssOf = (pids: number[]): number => pids.reduce((s, p) => s + (pssKiB(p) ?? 0), 0);

export async function containerdBench(rounds = 15): Promise<Record<string, number>> {
  header('containerd', { rounds });
  const dir = mkdtempSync(join(tmpdir(), 'cunik-bench-ctrd-'));
  const d = await daemonWithHello();
  const c = await startContainerd(join(dir, 'containerd'), { CUNIK_ACCEL: 'tcg' });
  try {
    const run = (args: string[]) => cli(args, { socket: d.socket });
    const saved = await run(['save', '-o', join(dir, 'hello.tar'), 'hello:latest']);
    if (saved.code !== 0) throw new Error(`cunik save: ${saved.stderr}`);
    const imported = await c.ctr(['image', 'import', join(dir, 'hello.tar')]);
    if (imported.code !== 0) throw new Error(`ctr image import: ${imported.stderr}`);
    let n = 0;
    const times = await abba(rounds, {
      cunik_runc: async () => {
        const t0 = now();
        const r = await c.ctr(['run', '--rm', ...RUNTIME, 'hello:latest', `b${n++}`, 'exit=0']);
        if (r.code !== 0 || !r.stdout.includes('exit: 0')) throw new Error(`ctr run: ${r.code} ${r.stderr}`);
        return now() - t0;
      },
      cunikd: async () => {
        const t0 = now();
        const r = await run(['run', '--rm', 'hello', 'exit=0']);
        if (r.code !== 0 || !r.stdout.includes('exit: 0')) throw new Error(`cunik run: ${r.code} ${r.stderr}`);
        return now() - t0;
      },
    }, { warmup: 1 });
    const ctrMs = median(times.cunik_runc);
    const cunikMs = median(times.cunikd);

    // One idle task each, once its guest is ready; PSS sampled 5 times, median.
    const logFile = join(dir, 'idle.log');
    const r = await c.ctr(['run', '-d', '--log-uri', `file://${logFile}`, ...RUNTIME, 'hello:latest', 'idle1', 'idle']);
    if (r.code !== 0) throw new Error(`ctr run -d: ${r.stderr}`);
    await waitFor('the ctr task ready', () => (existsSync(logFile) && readFileSync(logFile, 'utf8').includes('ready')) || undefined, 60_000);
    const made = await run(['run', '-d', '--name', 'idle1', 'hello', 'idle']);
    if (made.code !== 0) throw new Error(`cunik run -d: ${made.stderr}`);
    await waitFor('the cunikd instance ready', async () => (await run(['logs', 'idle1'])).stdout.includes('ready') || undefined, 60_000);
    const taskPids = processesNaming(`${c.runcRoot}/cunik/idle1/`);
    const shimPids = processesNaming('containerd-shim-runc-v2').filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(c.namespace));
    const instPids = processesNaming(join(d.root, 'instances'));
    const samples = { task: [] as number[], inst: [] as number[], shim: [] as number[] };
    for (let i = 0; i < 5; i++) {
      samples.task.push(pssOf(taskPids));
      samples.inst.push(pssOf(instPids));
      samples.shim.push(pssOf(shimPids));
      await new Promise((res) => setTimeout(res, 200));
    }
    const taskKiB = median(samples.task);
    const instKiB = median(samples.inst);
    const shimKiB = median(samples.shim);
    console.log(`# ctr run --rm via cunik-runc ${round(ctrMs, 1)} ms, cunik run --rm ${round(cunikMs, 1)} ms (medians of ${rounds})`);
    console.log(`# idle task: cunik-shim + QEMU ${taskKiB} KiB PSS (${taskPids.length} processes), cunikd instance ${instKiB} KiB (${instPids.length}); containerd-shim-runc-v2 ${shimKiB} KiB more per task`);
    return {
      ratio: round(ctrMs / cunikMs, 3),
      ctr_run_ms: round(ctrMs, 1),
      cunik_run_ms: round(cunikMs, 1),
      memory_ratio: round(taskKiB / instKiB, 3),
      task_pss_kib: taskKiB,
      instance_pss_kib: instKiB,
      containerd_shim_pss_kib: shimKiB,
    };
  } finally {
    await c.stop();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
