// Each running instance holds a file descriptor or two in the daemon (its QMP connection), so a
// thousand instances need more than the common soft limit of 1,024. Node has no setrlimit, so the
// daemon raises its own soft limit to the hard one with util-linux's prlimit, best effort.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export function openFileLimits(): { soft: number; hard: number } | undefined {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const m = line && /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line);
  if (!m) return undefined;
  const n = (v: string): number => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

/** Returns the soft limit in force afterwards. */
export function raiseOpenFileLimit(wanted = 1_048_576): number | undefined {
  const limits = openFileLimits();
  if (!limits) return undefined;
  const target = Math.min(wanted, limits.hard);
  if (limits.soft >= target) return limits.soft;
  try {
    execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${target}:${limits.hard === Number.MAX_SAFE_INTEGER ? 'unlimited' : limits.hard}`], { stdio: 'ignore' });
  } catch {
    return limits.soft;
  }
  return openFileLimits()?.soft;
}

/** How much ahead of its VMs the daemon runs (nice values). */
export const CONTROL_PLANE_BOOST = 5;

/**
 * Run the daemon's main thread (and so the spawner and shims it starts) a little ahead of the VMs:
 * a VM's boot is CPU-bound, and without this every step of a start in the daemon, the spawner and
 * the shim waits behind booting VMs for a time slice. The VMs get back the priority the daemon was
 * started with (returned; cunik-shim --nice). The daemon's own heavier work (a build's packing,
 * its helper processes) runs ahead of the VMs too. Needs root (CAP_SYS_NICE); otherwise nothing
 * changes and undefined is returned.
 */
export function raiseControlPlanePriority(): number | undefined {
  const original = getPriority();
  try {
    setPriority(Math.max(-20, original - CONTROL_PLANE_BOOST));
  } catch {
    return undefined;
  }
  return original;
}
