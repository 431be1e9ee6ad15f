// The task's cgroup, as runc places a container: linux.cgroupsPath in cgroupfs form ("/a/b",
// or relative to cunik-runc's own cgroup) or, with --systemd-cgroup, "slice:prefix:name" (the
// directories systemd would make for that scope: no transient unit over D-Bus). cgroup v2
// (memory.max, cpu.max) and v1 / hybrid (each hierarchy; memory.limit_in_bytes, cpu.cfs_*).
// cunik-shim joins it before it forks QEMU (--cgroup), so both long-lived processes are in it.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalid } from '../errors.js';

/** A mounted cgroup hierarchy: where, v2 or not, and its v1 controllers (or name=...). */
export interface Hierarchy {
  mount: string;
  v2: boolean;
  controllers: string[];
}

export interface CgroupLimits {
  memoryBytes?: number;
  cpu?: { quota: number; period: number };
}

/** What create made: the path below each hierarchy's root and the leaf directories (delete removes them). */
export interface TaskCgroup {
  path: string;
  dirs: string[];
}

const clean = (parts: string[], raw: string): string => {
  for (const p of parts) if (p === '..' || p.includes('\0')) throw invalid(`linux.cgroupsPath ${JSON.stringify(raw)}: '..' is not allowed`);
  return parts.filter((p) => p !== '' && p !== '.').join('/');
};

/** systemd's slice name to its path: "a-b.slice" → "a.slice/a-b.slice"; "-.slice" is the root. Pure. */
export function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice') || slice.includes('/')) throw invalid(`invalid slice name ${JSON.stringify(slice)}`);
  if (slice === '-.slice') return '';
  const name = slice.slice(0, -'.slice'.length);
  if (name.startsWith('-') || name.endsWith('-') || name.includes('--')) throw invalid(`invalid slice name ${JSON.stringify(slice)}`);
  const parts = name.split('-');
  return parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`).join('/');
}

/**
 * The cgroup's path below a hierarchy's root (no leading slash). `own` is cunik-runc's own cgroup in
 * that hierarchy, the base of a relative cgroupfs path (runc's rule). Absent: "<id>" (cgroupfs),
 * "system.slice:cunik:<id>" (systemd). Pure.
 */
export function cgroupPath(raw: string | undefined, systemd: boolean, id: string, own: string): string {
  if (systemd) {
    const s = raw === undefined || raw === '' ? `system.slice:cunik:${id}` : raw;
    const parts = s.split(':');
    if (parts.length !== 3) throw invalid(`expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got ${JSON.stringify(s)} instead`);
    const [slice, prefix, name] = parts as [string, string, string];
    if (name === '' || name.includes('/') || prefix.includes('/')) throw invalid(`cgroupsPath ${JSON.stringify(s)}: invalid unit name`);
    const unit = name.endsWith('.slice') ? name : prefix === '' ? `${name}.scope` : `${prefix}-${name}.scope`;
    return clean([...expandSlice(slice === '' ? 'system.slice' : slice).split('/'), unit], s);
  }
  const p = raw === undefined || raw === '' ? id : raw;
  if (p.includes(':')) throw invalid(`linux.cgroupsPath ${JSON.stringify(p)} is in systemd's form (slice:prefix:name): pass --systemd-cgroup`);
  return clean([...(p.startsWith('/') ? [] : own.split('/')), ...p.split('/')], p);
}

/** The hierarchies of /proc/self/mounts (lines "cgroup2 /sys/fs/cgroup cgroup2 rw,... 0 0"). Pure. */
export function hierarchies(mounts: string): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of mounts.split('\n')) {
    const [, mount, type, opts] = line.split(' ');
    if (mount === undefined || opts === undefined) continue;
    if (type === 'cgroup2') out.push({ mount, v2: true, controllers: [] });
    else if (type === 'cgroup') out.push({ mount, v2: false, controllers: opts.split(',').filter((o) => !['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec', 'clone_children'].includes(o) && !o.startsWith('release_agent=')) });
  }
  return out;
}

/** cunik-runc's own cgroup per hierarchy, from /proc/self/cgroup ("4:memory:/a", "0::/b"). Pure. */
export function ownCgroups(procCgroup: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of procCgroup.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    m.set(line.slice(first + 1, second), line.slice(second + 1));
  }
  return m;
}

/** The files to write for the limits, by controller file name. Pure. */
export function limitFiles(v2: boolean, limits: CgroupLimits): [string, string][] {
  const files: [string, string][] = [];
  if (v2) {
    if (limits.memoryBytes !== undefined) files.push(['memory.max', String(limits.memoryBytes)]);
    if (limits.cpu !== undefined) files.push(['cpu.max', `${limits.cpu.quota} ${limits.cpu.period}`]);
  } else {
    if (limits.memoryBytes !== undefined) files.push(['memory.limit_in_bytes', String(limits.memoryBytes)]);
    // The period first: a quota is checked against the period in place.
    if (limits.cpu !== undefined) files.push(['cpu.cfs_period_us', String(limits.cpu.period)], ['cpu.cfs_quota_us', String(limits.cpu.quota)]);
  }
  return files;
}

function write(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (err) {
    throw invalid(`cgroup: cannot write ${value} to ${file}: ${(err as Error).message}`);
  }
}

/** The hierarchies a task joins: v2, and every v1 one but cpuset (a new cpuset cgroup has no CPUs until given some). */
function joined(all: Hierarchy[]): Hierarchy[] {
  return all.filter((h) => h.v2 || (h.controllers.length > 0 && !h.controllers.includes('cpuset')));
}

/**
 * Make the task's cgroup in each hierarchy and write the limits; the leaf directories it made.
 * On failure, what it made is removed. The cgroup.procs files are where cunik-shim writes itself.
 */
export function makeCgroup(raw: string | undefined, systemd: boolean, id: string, limits: CgroupLimits): TaskCgroup {
  const all = joined(hierarchies(readFileSync('/proc/self/mounts', 'utf8')));
  if (all.length === 0) throw invalid('cgroup: no cgroup hierarchy is mounted');
  const own = ownCgroups(readFileSync('/proc/self/cgroup', 'utf8'));
  const made: string[] = [];
  const applied = new Set<string>();
  let path = '';
  try {
    for (const h of all) {
      const key = h.v2 ? '' : h.controllers.join(',');
      path = cgroupPath(raw, systemd, id, own.get(key) ?? '/');
      if (path === '') throw invalid('linux.cgroupsPath names the root cgroup');
      const dir = join(h.mount, path);
      if (h.v2) {
        // Each level down to the task's parent hands down the controllers the limits need.
        const parts = path.split('/');
        for (let i = 0; i < parts.length; i++) {
          const parent = join(h.mount, ...parts.slice(0, i));
          const level = join(parent, parts[i]!);
          if (!existsSync(level)) mkdirSync(level);
          const available = readFileSync(join(parent, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
          const want = ['cpu', 'memory', 'pids'].filter((c) => available.includes(c));
          for (const c of want) {
            try {
              writeFileSync(join(parent, 'cgroup.subtree_control'), `+${c}`);
            } catch {
              /* a parent with processes of its own cannot hand controllers down: the limit write says so */
            }
          }
        }
        made.push(dir);
      } else {
        mkdirSync(dir, { recursive: true });
        made.push(dir);
      }
      // v1: the hierarchy's own controllers; v2: those not bound to a v1 hierarchy (hybrid mounts).
      const has = h.v2 ? readFileSync(join(h.mount, 'cgroup.controllers'), 'utf8').trim().split(/\s+/) : h.controllers;
      for (const [f, v] of limitFiles(h.v2, limits)) {
        const controller = f.split('.')[0]!;
        if (!has.includes(controller)) continue;
        write(join(dir, f), v);
        applied.add(controller);
      }
    }
    for (const [c, set] of [['memory', limits.memoryBytes], ['cpu', limits.cpu]] as const) {
      if (set !== undefined && !applied.has(c)) throw invalid(`cgroup: no ${c} controller is mounted for the ${c} limit in linux.resources`);
    }
    return { path, dirs: made };
  } catch (err) {
    removeCgroup(made);
    throw err;
  }
}

/** rmdir each leaf; a cgroup still holding a task that is exiting is retried briefly. */
export function removeCgroup(dirs: string[]): void {
  for (const dir of dirs) {
    for (let i = 0; ; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || i >= 100) throw invalid(`cgroup: cannot remove ${dir}: ${(err as Error).message}`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }
}

/** The pids in the task's cgroup (runc's ps reads them so). */
export function cgroupPids(dirs: string[]): number[] {
  for (const dir of dirs) {
    try {
      return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l !== '').map(Number);
    } catch {
      /* the next hierarchy */
    }
  }
  return [];
}
