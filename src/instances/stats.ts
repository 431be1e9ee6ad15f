// Resource use of an instance's VMM process, read from /proc (proc(5)):
//   /proc/<pid>/stat    fields 14 utime and 15 stime (CPU time, clock ticks), 22 starttime;
//   /proc/<pid>/status  VmRSS (resident set, kB).
// CPU % is the CPU time the process used over a wall-clock interval, as a percentage of one host
// CPU (so a 2-vCPU guest can show up to 200 %), like `docker stats`. Guest memory is the
// configured size: QEMU maps it lazily, so RSS shows what the guest really touched.
import { readFile } from 'node:fs/promises';
import type { InstanceState } from '../api/schemas.js';
import type { InstanceStats } from '../api/stats.js';

/** Clock ticks per second of /proc's CPU times: USER_HZ, 100 on every Linux architecture Node runs on. */
export const USER_HZ = 100;
const MiB = 1024 * 1024;

export interface ProcStat {
  state: string;
  /** User and system CPU time, clock ticks. */
  utime: number;
  stime: number;
  /** Start time after boot, clock ticks. */
  starttime: number;
}

/** Parse /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses: it ends at the last ")". */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).trim().split(/\s+/); // f[0] is field 3 (state)
  const field = (n: number): number => Number(f[n - 3]);
  const stat = { state: f[0] ?? '', utime: field(14), stime: field(15), starttime: field(22) };
  if (![stat.utime, stat.stime, stat.starttime].every(Number.isFinite) || stat.state === '') return undefined;
  return stat;
}

/** VmRSS from /proc/<pid>/status, in bytes; undefined when absent (e.g. a zombie). */
export function parseVmRssBytes(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s*kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

export interface ProcSample {
  /** utime + stime, clock ticks. */
  cpuTicks: number;
  rssBytes: number;
  /** When it was taken, milliseconds on a monotonic clock. */
  atMs: number;
}

/** Sample a live process; undefined if it is gone. */
export async function readProcSample(pid: number, procRoot = '/proc', nowMs: () => number = () => performance.now()): Promise<ProcSample | undefined> {
  try {
    const [stat, status] = await Promise.all([readFile(`${procRoot}/${pid}/stat`, 'utf8'), readFile(`${procRoot}/${pid}/status`, 'utf8')]);
    const s = parseProcStat(stat);
    if (!s) return undefined;
    return { cpuTicks: s.utime + s.stime, rssBytes: parseVmRssBytes(status) ?? 0, atMs: nowMs() };
  } catch {
    return undefined;
  }
}

/** CPU use between two samples, percent of one host CPU, two decimals. */
export function cpuPercent(prev: ProcSample, cur: ProcSample, hz = USER_HZ): number {
  const wallS = (cur.atMs - prev.atMs) / 1000;
  if (wallS <= 0) return 0;
  const cpuS = Math.max(0, cur.cpuTicks - prev.cpuTicks) / hz;
  return Math.round((cpuS / wallS) * 100 * 100) / 100;
}

/** The instance facts a stats report needs (from its record). */
export interface StatsTarget {
  id: string;
  name: string;
  state: InstanceState;
  pid: number | null;
  startedAt: string | null;
  memoryMiB: number;
}

/** One report from two samples of the same process (either may be missing: the process is not running). */
export function statsReport(t: StatsTarget, prev: ProcSample | undefined, cur: ProcSample | undefined, now = new Date(), hz = USER_HZ): InstanceStats {
  const live = cur !== undefined && (t.state === 'running' || t.state === 'paused');
  return {
    id: t.id,
    name: t.name,
    state: t.state,
    pid: live ? t.pid : null,
    read: now.toISOString(),
    cpuPercent: live && prev ? cpuPercent(prev, cur, hz) : 0,
    cpuSeconds: live ? Math.round((cur.cpuTicks / hz) * 100) / 100 : 0,
    memory: { rss: live ? cur.rssBytes : 0, guest: t.memoryMiB * MiB },
    uptimeSeconds: live && t.startedAt ? Math.max(0, Math.round((now.getTime() - Date.parse(t.startedAt)) / 1000)) : 0,
  };
}

export interface StatsOptions {
  /** Keep reporting every `intervalMs` (true), or report once (false). */
  stream: boolean;
  /** Measuring window of the first report, ms. */
  firstWindowMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
  procRoot?: string;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Reports for one instance: the first after a short measuring window, then (streaming) one per
 * interval, CPU % over that interval. Ends when `lookup` no longer finds the instance, when it is
 * no longer running (after one last report), or when `signal` aborts.
 */
export async function* instanceStats(lookup: () => StatsTarget | undefined, opts: StatsOptions): AsyncGenerator<InstanceStats> {
  const { stream, firstWindowMs = 500, intervalMs = 1000, signal, procRoot } = opts;
  const sample = async (t: StatsTarget): Promise<ProcSample | undefined> =>
    t.pid !== null && (t.state === 'running' || t.state === 'paused') ? readProcSample(t.pid, procRoot) : undefined;
  let target = lookup();
  if (!target) return;
  let pid = target.pid;
  let prev = await sample(target);
  let window = firstWindowMs;
  for (;;) {
    if (prev) await sleep(window, signal);
    if (signal?.aborted) return;
    target = lookup();
    if (!target) return;
    // A restarted instance is a new process: its CPU time starts again.
    if (target.pid !== pid) prev = undefined;
    pid = target.pid;
    const cur = await sample(target);
    yield statsReport(target, prev, cur);
    if (!stream || !cur) return;
    prev = cur;
    window = intervalMs;
  }
}
