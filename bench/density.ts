// density: N idle instances through the daemon (two started at a time), then N bare QEMUs with the
// same argv, in one run: host memory per instance, daemon RSS per instance, start times, `cunik ps`
// time with all running, and how long a restarted daemon takes to re-adopt them all.
// The bare QEMUs run with transparent huge pages off, as the daemon runs its own (docs/qemu.md).
//
// What each side runs, per instance (printed as `# density: <side> runs ...` from /proc):
// - daemon: `cunik run -d hello idle` as a user types it (the default network, `user`), i.e.
//   cunik-shim and QEMU; the hello kernel's boot spec (generic family) has no NIC, so no passt
//   runs for it. Plus, once, the spawner, and the daemon's own growth.
// - bare: QEMU with exactly the daemon's argv for such an instance; should that argv ever carry the
//   daemon's passt NIC (a family with a network), the bare VM gets the same passt on a unix socket
//   (bareNetwork, as boot-linux does), so that both sides always run the same VM with the same
//   network and the ratio is Cunik's own cost (the shim, the daemon), not a network one side lacks.
// Memory: each side runs in a memory cgroup of its own (bench/memcg.ts: the daemon is moved into
// one before its instances start; each bare QEMU joins one before it execs), and a phase's figure
// is the growth of that group's usage (user pages, page cache, page tables, kernel stacks, slab)
// per instance. The host-wide MemAvailable used before moved with every other job on a shared host
// (one 30-instance run read -1.3 MiB per Cunik instance); without root or a memory controller the
// bench falls back to it (noted in its output).
//
// Four rounds of each side in ABBAABBA order (daemon, bare, bare, daemon, daemon, bare, bare,
// daemon; bench/method.ts), so that a host that gets slower or faster during the run weighs on
// both sides alike. Start times and memory: each side's median round (as every bench reports).
// The steal time of each phase is reported, so a reader can tell a noisy phase from a slow one.
import { killOnExitSignal } from '../test/helpers/cleanup.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from '../src/vmm/qemu/qmp.js';
import { repo, startDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { bareBootDir, bareNetwork, daemonWithHello, header, median, now, round } from './harness.js';
import { census, MemoryGroup } from './memcg.js';
import { abbaOrder } from './method.js';

const { NODE_EXTRA_CA_CERTS: _certs, ...cliEnv } = process.env;
const memAvailableKiB = (): number => Number(/MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
/** Host-wide steal time so far, ms (the hypervisor ran someone else while this machine wanted to run). */
const stealMs = (): number => Number(readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)[8]) * 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until memory readings are steady: the previous phase's 1,000 VMs (11 GiB) take the kernel
 * seconds to tear down, and a baseline read meanwhile keeps rising during the next phase, which
 * makes that side look cheaper. Page cache and reclaimable slab are dropped (as root; best effort):
 * what the kernel happens to cache is the readings' largest noise otherwise.
 */
async function memoryQuiet(): Promise<void> {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    // not root: the readings are noisier
  }
  let last = memAvailableKiB();
  let steady = 0;
  for (let i = 0; i < 60 && steady < 2; i++) {
    await sleep(1000);
    const current = memAvailableKiB();
    steady = Math.abs(current - last) < 2048 ? steady + 1 : 0; // under 2 MiB in a second, twice running
    last = current;
  }
}

const THP_MODE = '/sys/kernel/mm/transparent_hugepage/enabled';

/**
 * Run `body` with transparent huge pages off host-wide, as cunikd runs its VMs (cunik-shim
 * --no-thp), so the bare QEMUs get the same memory policy as the daemon's and the comparison
 * stays about Cunik's own cost. The previous mode is restored. Without root: unchanged (noted).
 */
async function withoutHugepages<T>(body: () => Promise<T>): Promise<{ value: T; thpOff: boolean }> {
  let previous: string | undefined;
  try {
    previous = /\[(\w+)\]/.exec(readFileSync(THP_MODE, 'utf8'))?.[1];
    if (previous !== undefined && previous !== 'never') writeFileSync(THP_MODE, 'never');
  } catch {
    previous = undefined;
  }
  try {
    return { value: await body(), thpOff: previous !== undefined };
  } finally {
    if (previous !== undefined && previous !== 'never') writeFileSync(THP_MODE, previous);
  }
}

async function twoAtATime(total: number, start: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(
    [0, 1].map(async () => {
      for (let i = next++; i < total; i = next++) await start(i);
    }),
  );
  return (now() - t0) / 1000;
}

interface Phase {
  startS: number;
  mibPerInstance: number;
  stealMsPerInstance: number;
  /** Memory read from the side's cgroup (else from MemAvailable). */
  cgroup: boolean;
}

/**
 * Start `count` instances two at a time with `start`, then read the memory they hold: the growth of
 * `group`'s usage, or without one the host's MemAvailable (noisy on a shared host).
 */
async function measured(count: number, group: MemoryGroup | undefined, start: (i: number) => Promise<void>): Promise<Phase> {
  if (group === undefined) await memoryQuiet();
  const memBefore = group ? group.usageKiB() : memAvailableKiB();
  const steal0 = stealMs();
  const startS = await twoAtATime(count, start);
  const steal = stealMs() - steal0;
  await sleep(3000);
  if (group === undefined) await memoryQuiet();
  const grown = group ? group.usageKiB() - memBefore : memBefore - memAvailableKiB();
  return { startS, mibPerInstance: grown / 1024 / count, stealMsPerInstance: steal / count, cgroup: group !== undefined };
}

/** `# density: <side> runs, per instance: ...` and the figures of it (what runs and its PSS per instance). */
function describeSide(side: string, count: number, pids: number[]): Record<string, number> {
  const c = census(pids);
  const parts = Object.entries(c).map(([prog, e]) => `${prog} x${round(e.count / count, 3)} (${round(e.pssKiB / count, 1)} KiB PSS)`);
  console.log(`# density: ${side} runs, per instance: ${parts.join(', ') || 'nothing'}`);
  const out: Record<string, number> = {};
  for (const [prog, e] of Object.entries(c)) out[`${side}_pss_kib_per_instance_${prog.replace(/\W/g, '_')}`] = round(e.pssKiB / count, 1);
  return out;
}

/** What a bare run needs from the daemon's VMs: one instance's argv and paths, and a copy of its kernel. */
interface BareTemplate {
  argv: string[];
  instanceDir: string;
  socketDir: string;
  kernel: string;
}

/** The daemon's round: `count` instances through the API; with `extras`, also ps, RSS and live restore. */
async function daemonRound(count: number, extras: boolean): Promise<{ phase: Phase; figures: Record<string, number>; template: BareTemplate }> {
  let d: TestDaemon = await daemonWithHello();
  const figures: Record<string, number> = {};
  const group = MemoryGroup.create('cunik-bench-daemon');
  try {
    group?.join(d.proc.pid!); // from here on the daemon, its spawner, shims and VMs are charged to the group
    const rssBefore = rssKiB(d.proc.pid!);
    // As `cunik run -d` does: one request creates and starts each.
    const phase = await measured(count, group, async () => void (await d.client.createInstance({ image: 'hello', args: ['idle'], start: true })));
    if (extras && group) Object.assign(figures, describeSide('daemon', count, group.pids().filter((p) => p !== d.proc.pid)));
    figures['running_at_once'] = (await d.client.listInstances()).length;
    figures['daemon_rss_kib_per_instance'] = (rssKiB(d.proc.pid!) - rssBefore) / count;
    const any = (await d.client.listInstances())[0]!;
    const detail = await d.client.inspectInstance(any.id);
    const kernel = join(mkdtempSync(join(tmpdir(), 'cunik-k-')), 'kernel');
    copyFileSync(join(detail.paths.dir, 'kernel'), kernel);
    const template = { argv: detail.vm.argv, instanceDir: detail.paths.dir, socketDir: join(d.root, 'sock'), kernel };
    if (extras) {
      const psTimes: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = now();
        spawnSync(join(repo, 'bin', 'cunik'), ['-H', `unix://${d.socket}`, 'ps'], { stdio: 'ignore' });
        psTimes.push(now() - t0);
      }
      // For scale on this host: bare `node -e 0`, and the API call alone (no CLI process).
      const nodeTimes: number[] = [];
      const apiTimes: number[] = [];
      for (let i = 0; i < 7; i++) {
        let t0 = now();
        spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore', env: cliEnv }); // as bin/cunik starts node
        nodeTimes.push(now() - t0);
        t0 = now();
        await d.client.listInstances();
        apiTimes.push(now() - t0);
      }
      Object.assign(figures, { ps_ms: median(psTimes), ps_api_ms: median(apiTimes), node_ms: median(nodeTimes) });

      // Live restore of all of them.
      const gone = new Promise((r) => d.proc.once('exit', r));
      d.proc.kill('SIGKILL');
      await gone;
      d.client.close();
      const t0 = now();
      d = await startDaemon({ dir: d.dir });
      figures['restored'] = (await d.client.listInstances()).length;
      figures['restore_s'] = (now() - t0) / 1000;
    }
    return { phase, figures, template };
  } finally {
    await d.stop(); // kills its VMs and waits until they are gone
    await group?.remove();
  }
}

/** The bare round: `count` QEMUs with the daemon's argv, each in its own directory (with `describe`, say what runs). */
async function bareRound(count: number, t: BareTemplate, describe: boolean): Promise<{ phase: Phase; thpOff: boolean; figures: Record<string, number> }> {
  const bareRoot = mkdtempSync(join(tmpdir(), 'cunik-bare-'));
  const children: ChildProcess[] = [];
  const group = MemoryGroup.create('cunik-bench-bare');
  const wrap = (argv: string[]): string[] => (group ? group.wrap(argv) : argv);
  let figures: Record<string, number> = {};
  try {
    const { value: phase, thpOff } = await withoutHugepages(() =>
      measured(count, group, async (i) => {
        const dir = join(bareRoot, String(i));
        mkdirSync(dir);
        writeFileSync(join(dir, 'console.log'), '');
        const args = t.argv.map((a) => a.split(t.instanceDir).join(dir).split(t.socketDir).join(dir)).map((a) => (a === join(dir, 'kernel') ? t.kernel : a));
        // The same network as the daemon's VM, if its argv has one (none for the hello kernel).
        const passt = await bareNetwork(args, dir, wrap);
        if (passt) children.push(passt);
        const run = wrap(args);
        const cwd = bareBootDir(args, dir, t.kernel);
        const child = spawn(run[0]!, run.slice(1), { detached: true, stdio: 'ignore', ...(cwd && { cwd }) });
        killOnExitSignal(child, true); // a killed bench leaves no VM behind
        child.unref();
        children.push(child);
        const qmpPath = /unix:([^,]+)/.exec(args[args.indexOf('-qmp') + 1]!)![1]!;
        (await QmpClient.connect(qmpPath, { timeoutMs: 30_000 })).close();
      }),
    );
    if (describe && group) figures = describeSide('bare', count, group.pids());
    return { phase, thpOff, figures };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    // Until every one has exited (and its memory is back), at most 30 s; a timer keeps the loop
    // alive meanwhile, since the children are unref()ed.
    for (let i = 0; i < 300 && children.some((c) => c.exitCode === null && c.signalCode === null); i++) await sleep(100);
    rmSync(bareRoot, { recursive: true, force: true });
    await group?.remove();
  }
}

/** Phase order: ABBAABBA... (daemon, bare, bare, daemon, daemon, bare, ...), `rounds` of each side. */
export const phaseOrder = (rounds: number): ('daemon' | 'bare')[] => abbaOrder(rounds, 2).map((i) => (i === 0 ? 'daemon' : 'bare'));

export async function density(count = 1000, rounds = 4): Promise<Record<string, number>> {
  header('density', { instances: count, rounds });
  const first = await daemonRound(count, true);
  const t = first.template;
  const phases: { side: 'daemon' | 'bare'; phase: Phase }[] = [{ side: 'daemon', phase: first.phase }];
  let thpOff = false;
  let bareFigures: Record<string, number> | undefined;
  try {
    for (const side of phaseOrder(rounds).slice(1)) {
      if (side === 'daemon') phases.push({ side, phase: (await daemonRound(count, false)).phase });
      else {
        const bare = await bareRound(count, t, bareFigures === undefined);
        bareFigures ??= bare.figures;
        thpOff = bare.thpOff;
        phases.push({ side, phase: bare.phase });
      }
    }
  } finally {
    rmSync(join(t.kernel, '..'), { recursive: true, force: true });
  }
  const of = (side: 'daemon' | 'bare'): Phase[] => phases.filter((p) => p.side === side).map((p) => p.phase);
  const hostMiB = median(of('daemon').map((p) => p.mibPerInstance));
  const bareMiB = median(of('bare').map((p) => p.mibPerInstance));
  const startS = median(of('daemon').map((p) => p.startS));
  const bareStartS = median(of('bare').map((p) => p.startS));
  console.log(`# density: memory read as ${phases.every((p) => p.phase.cgroup) ? "each side's own memory cgroup's growth" : "the host's MemAvailable (no memory cgroup could be made: noisy on a shared host)"}`);
  console.log(`# density: the bare QEMUs ran with transparent huge pages ${thpOff ? 'off, as the daemon runs its VMs' : 'as the host has them (not root: could not turn them off)'}`);
  const f = first.figures;
  const result: Record<string, number> = {
    running_at_once: f['running_at_once']!,
    restored: f['restored']!,
    host_mib_per_instance: round(hostMiB, 3),
    bare_mib_per_instance: round(bareMiB, 3),
    host_vs_bare: round(hostMiB / bareMiB, 3),
    daemon_rss_kib_per_instance: round(f['daemon_rss_kib_per_instance']!, 1),
    start_all_s: round(startS),
    bare_start_all_s: round(bareStartS),
    start_vs_bare: round(startS / bareStartS, 3),
    ps_ms: round(f['ps_ms']!),
    ps_api_ms: round(f['ps_api_ms']!),
    node_ms: round(f['node_ms']!),
    restore_s: round(f['restore_s']!, 3),
    ...Object.fromEntries(Object.entries(f).filter(([k]) => k.startsWith('daemon_pss_'))),
    ...bareFigures,
  };
  // Each phase, in run order (see phaseOrder): its start time and the host's steal per instance.
  phases.forEach(({ side, phase }, i) => {
    result[`phase_${i + 1}_${side}_start_s`] = round(phase.startS);
    result[`phase_${i + 1}_${side}_steal_ms_per_instance`] = round(phase.stealMsPerInstance);
  });
  return result;
}
