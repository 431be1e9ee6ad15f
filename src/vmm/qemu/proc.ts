// Processes seen from outside: /proc (argv, start time), the shim's exit file, QEMU's stderr log,
// signals to a shim's process group. Used by the driver for VMs it started and for VMs it adopts.
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import type { VmExit, VmPaths } from '../types.js';
import { signalName } from '../../util/signals.js';
import { RUN_MARKER } from './exit.js';

/** What the VMM log holds from `offset` on (at most 16 KiB: QEMU says little). */
export function runStderr(logFile: string, offset: number): string {
  try {
    const fd = openSync(logFile, 'r');
    try {
      const buf = Buffer.alloc(16 * 1024);
      const n = readSync(fd, buf, 0, buf.length, offset);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * The stderr of the last run in the VMM log: what follows the last RUN_MARKER line, for a VM that
 * ended while no one watched (its start offset was the previous daemon's).
 */
export function lastRunStderr(logFile: string | undefined): string {
  if (logFile === undefined) return '';
  const size = statSync(logFile, { throwIfNoEntry: false })?.size ?? 0;
  const tail = runStderr(logFile, Math.max(0, size - 16 * 1024));
  const at = tail.lastIndexOf(RUN_MARKER);
  return at < 0 ? tail : tail.slice(at);
}

/** Append the run marker to the VMM log (creating it); returns the offset where this run's stderr begins. */
export function markRun(logFile: string | undefined): number {
  if (logFile === undefined) return 0;
  try {
    const fd = openSync(logFile, 'a', 0o600);
    try {
      writeSync(fd, `${RUN_MARKER} ${new Date().toISOString()}\n`);
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

/** How the VM ended, as cunik-shim recorded it; undefined if it has not (yet) written the file. */
export function recordedExit(paths: VmPaths): VmExit | undefined {
  if (paths.exitFile === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(paths.exitFile, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(exit|signal) (\d+)/.exec(text);
  if (!m) return undefined;
  const n = Number(m[2]);
  if (m[1] === 'exit') return { status: n, signal: null };
  return { status: null, signal: signalName(n) ?? 'SIGKILL' };
}

/**
 * End the VMs of instances that no record says are running (a daemon killed between spawning a
 * VM and saving its record): one scan of /proc for shims or QEMUs whose argv names one of these
 * instances' files, and SIGKILL to each one's process group. Returns how many were killed.
 */
export function killStrays(instances: VmPaths[]): number {
  const markers = instances.flatMap((p) => [p.qmpSocket, ...(p.exitFile ? [p.exitFile] : [])]);
  if (markers.length === 0) return 0;
  const groups = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!pid || pid === process.pid) continue;
    const args = procCmdline(pid);
    if (!args?.some((a) => markers.some((m) => a.includes(m)))) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      groups.add(pgid > 1 && pgid !== process.pid ? -pgid : pid);
    } catch {
      /* gone meanwhile */
    }
  }
  for (const target of groups) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  return groups.size;
}

/** Signal a shim's whole process group (the shim ignores catchable signals; QEMU acts on them). */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* ESRCH: already gone */
  }
}

/** argv of a live process, or undefined if it is gone. */
export function procCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((a, i, all) => !(a === '' && i === all.length - 1));
  } catch {
    return undefined;
  }
}

/** Start time (clock ticks since boot) from /proc/<pid>/stat: tells a pid apart from a reused one. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: fields after the last ')' start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    if (state === 'Z' || state === 'X') return undefined; // a zombie is as good as gone
    return fields[19]; // field 22
  } catch {
    return undefined;
  }
}

/**
 * A shim whose spawner died: it is init's child now, so its end is seen by polling /proc (every
 * 100 ms) and how QEMU ended comes from its exit file.
 */
export function watchOrphan(pid: number, paths: VmPaths): Promise<VmExit> {
  const startTime = procStartTime(pid);
  const ours = startTime !== undefined && paths.exitFile !== undefined && (procCmdline(pid)?.includes(paths.exitFile) ?? false);
  const gone = (): VmExit => recordedExit(paths) ?? { status: null, signal: 'SIGKILL' };
  if (!ours) return Promise.resolve(gone());
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (procStartTime(pid) === startTime) return;
      clearInterval(timer);
      resolve(gone());
    }, 100);
    timer.unref();
  });
}
