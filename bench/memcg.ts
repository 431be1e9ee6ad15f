// A memory cgroup for one side of a benchmark: the kernel charges it every page its processes
// allocate (anonymous memory, page cache they fill, and kernel memory: page tables, kernel stacks,
// slab), so its usage is what those processes cost the host, whatever else runs there. The
// host-wide MemAvailable (the earlier method) moved by hundreds of MiB while other people's builds
// ran on the same host, more than 30 idle VMs hold (a density run read -1.3 MiB per instance).
// Needs root and the memory controller (cgroup v2's memory.current or v1's memory.usage_in_bytes);
// `create` returns undefined otherwise. The group is made inside this process's own memory cgroup,
// so the processes moved into it stay under whatever holds (and limits) the bench.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V2 = '/sys/fs/cgroup';
const V1 = '/sys/fs/cgroup/memory';

export class MemoryGroup {
  private constructor(
    readonly dir: string,
    private readonly usageFile: string,
  ) {}

  /** A new, empty group named `name` (unique to this process), or undefined where there is none to make. */
  static create(name: string): MemoryGroup | undefined {
    // /proc/self/cgroup: "0::/path" (v2), "N:memory:/path" (v1's memory hierarchy).
    const mine = readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':'));
    const v2 = existsSync(join(V2, 'cgroup.controllers'));
    const own = mine.find((f) => (v2 ? f[0] === '0' : f[1]?.split(',').includes('memory')))?.[2];
    const base = own === undefined ? undefined : join(v2 ? V2 : V1, own);
    if (base === undefined || !existsSync(join(base, v2 ? 'memory.current' : 'memory.usage_in_bytes'))) return undefined;
    // v2: a process may not sit in a group whose children have controllers; the memory controller must be on for children.
    if (v2 && !readFileSync(join(base, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory')) return undefined;
    const dir = join(base, `${name}-${process.pid}`);
    try {
      mkdirSync(dir);
    } catch {
      return undefined; // not root
    }
    return new MemoryGroup(dir, join(dir, v2 ? 'memory.current' : 'memory.usage_in_bytes'));
  }

  /** Move a running process into the group: what it allocates from now on is charged here. */
  join(pid: number): void {
    writeFileSync(join(this.dir, 'cgroup.procs'), String(pid));
  }

  /** `argv` made to run in the group from its first instruction (a shell joins it, then execs argv). */
  wrap(argv: string[]): string[] {
    return ['/bin/sh', '-c', `echo 0 > ${join(this.dir, 'cgroup.procs')} && exec "$@"`, 'sh', ...argv];
  }

  usageKiB(): number {
    return Number(readFileSync(this.usageFile, 'utf8').trim()) / 1024;
  }

  /** The pids in the group now. */
  pids(): number[] {
    return readFileSync(join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  }

  /** Remove the group (its processes must be gone: a few tries while the last ones exit). */
  async remove(): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        rmdirSync(this.dir);
        return;
      } catch (err) {
        if (i >= 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/** PSS of one process in KiB (/proc/PID/smaps_rollup), or undefined once it is gone. */
export function pssKiB(pid: number): number | undefined {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]);
  } catch {
    return undefined;
  }
}

/** The program a process runs (argv[0]'s last part), or undefined once it is gone. */
export function programOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.split('/').pop();
  } catch {
    return undefined;
  }
}

/** What runs in a group: per program, how many processes and their PSS in KiB. */
export function census(pids: number[]): Record<string, { count: number; pssKiB: number }> {
  const out: Record<string, { count: number; pssKiB: number }> = {};
  for (const pid of pids) {
    const prog = programOf(pid);
    const pss = pssKiB(pid);
    if (prog === undefined || pss === undefined) continue;
    const e = (out[prog] ??= { count: 0, pssKiB: 0 });
    e.count++;
    e.pssKiB += pss;
  }
  return out;
}
