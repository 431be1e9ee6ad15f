// density: N idle instances through the daemon (two started at a time), then N bare QEMUs with the
// same argv, in one run: host memory per instance, daemon RSS per instance, start times, `cunik ps`
// time with all running, and how long a restarted daemon takes to re-adopt them all.
// The bare QEMUs run with transparent huge pages off, as the daemon runs its own (docs/qemu.md).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from '../src/vmm/qemu/qmp.js';
import { killInstances, repo, startDaemon } from '../test/helpers/daemon.js';
import { daemonWithHello, median, now, round } from './harness.js';

const { NODE_EXTRA_CA_CERTS: _certs, ...cliEnv } = process.env;
const memAvailableKiB = (): number => Number(/MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 3000));

/**
 * Wait until the memory of the processes just killed is back: tearing down 1,000 VMs (14 GiB)
 * takes the kernel several seconds, and a baseline read meanwhile keeps rising during the next
 * phase, which made the bare side look cheaper than it is.
 */
async function memoryQuiet(): Promise<void> {
  // Dropped page cache and reclaimable slab (as root; best effort) take the readings' largest
  // source of noise away: what the kernel happens to cache meanwhile.
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    // not root: the readings are noisier
  }
  let last = memAvailableKiB();
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = memAvailableKiB();
    if (Math.abs(now - last) < 8 * 1024) return; // under 8 MiB in a second: settled
    last = now;
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
  await Promise.all([0, 1].map(async () => {
    for (let i = next++; i < total; i = next++) await start(i);
  }));
  return (now() - t0) / 1000;
}

export async function density(count = 1000): Promise<Record<string, number>> {
  // Through the daemon.
  let d = await daemonWithHello();
  await memoryQuiet();
  const memBefore = memAvailableKiB();
  const rssBefore = rssKiB(d.proc.pid!);
  let argv: string[] = [];
  let argvDir = '';
  let socketDir = '';
  let result: Record<string, number>;
  try {
    const startAll = await twoAtATime(count, async () => {
      const { id } = await d.client.createInstance({ image: 'hello', args: ['idle'] });
      await d.client.startInstance(id);
    });
    await settle();
    await memoryQuiet();
    const running = (await d.client.listInstances()).length;
    const hostMiB = (memBefore - memAvailableKiB()) / 1024 / count;
    const daemonKiB = (rssKiB(d.proc.pid!) - rssBefore) / count;
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
    const any = (await d.client.listInstances())[0]!;
    const detail = await d.client.inspectInstance(any.id);
    argv = detail.vm.argv;
    argvDir = detail.paths.dir;
    socketDir = join(d.root, 'sock');

    // Live restore of all of them.
    const gone = new Promise((r) => d.proc.once('exit', r));
    d.proc.kill('SIGKILL');
    await gone;
    d.client.close();
    const t0 = now();
    d = await startDaemon({ dir: d.dir });
    const restored = (await d.client.listInstances()).length;
    const restoreS = (now() - t0) / 1000;
    result = {
      instances: count,
      running_at_once: running,
      restored,
      host_mib_per_instance: round(hostMiB, 3),
      daemon_rss_kib_per_instance: round(daemonKiB, 1),
      start_all_s: round(startAll),
      ps_ms: round(median(psTimes)),
      ps_api_ms: round(median(apiTimes)),
      node_ms: round(median(nodeTimes)),
      restore_s: round(restoreS, 3),
    };
    // Copy what the bare run needs before the daemon's files go.
    const bareKernel = join(mkdtempSync(join(tmpdir(), 'cunik-k-')), 'kernel');
    copyFileSync(join(argvDir, 'kernel'), bareKernel);
    argvDir = `${argvDir}|${bareKernel}`;
  } finally {
    killInstances(d.root);
    await new Promise((r) => setTimeout(r, 1000));
    await d.stop();
  }

  // Bare QEMU, same argv, each in its own directory.
  const [instanceDir, kernel] = argvDir.split('|') as [string, string];
  const bareRoot = mkdtempSync(join(tmpdir(), 'cunik-bare-'));
  const children: ChildProcess[] = [];
  try {
    const { value: bare, thpOff } = await withoutHugepages(async () => {
      await memoryQuiet();
      const memBare = memAvailableKiB();
      const bareStart = await twoAtATime(count, async (i) => {
        const dir = join(bareRoot, String(i));
        mkdirSync(dir);
        writeFileSync(join(dir, 'console.log'), '');
        const args = argv.map((a) => a.split(instanceDir).join(dir).split(socketDir).join(dir)).map((a) => (a === join(dir, 'kernel') ? kernel : a));
        const child = spawn(args[0]!, args.slice(1), { detached: true, stdio: 'ignore' });
        child.unref();
        children.push(child);
        const qmpPath = /unix:([^,]+)/.exec(args[args.indexOf('-qmp') + 1]!)![1]!;
        (await QmpClient.connect(qmpPath, { timeoutMs: 30_000 })).close();
      });
      await settle();
      await memoryQuiet();
      return { mib: (memBare - memAvailableKiB()) / 1024 / count, startS: bareStart };
    });
    result['bare_mib_per_instance'] = round(bare.mib, 3);
    result['bare_start_all_s'] = round(bare.startS);
    result['bare_thp_off'] = thpOff ? 1 : 0;
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    rmSync(bareRoot, { recursive: true, force: true });
    rmSync(join(kernel, '..'), { recursive: true, force: true });
  }
  result['host_vs_bare'] = round(result['host_mib_per_instance']! / result['bare_mib_per_instance']!, 3);
  result['start_vs_bare'] = round(result['start_all_s']! / result['bare_start_all_s']!, 3);
  return result;
}
