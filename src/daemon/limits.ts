// Each running instance holds a file descriptor or two in the daemon (its QMP connection), so a
// thousand instances need more than the common soft limit of 1,024. Node has no setrlimit, so the
// daemon raises its own soft limit to the hard one with util-linux's prlimit, best effort.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
