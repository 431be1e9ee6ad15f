// Collect an ELF's dynamic loader and shared libraries the way glibc's loader finds them
// (elf/dl-load.c _dl_map_object; ld.so(8) "Search order"), without running anything:
//   1. a DT_NEEDED name with a "/" is a path;
//   2. the requesting object's DT_RPATH, then the executable's, when the object has no DT_RUNPATH;
//   3. the requesting object's DT_RUNPATH (only for its own direct dependencies);
//   4. the directories of /etc/ld.so.conf (what ld.so.cache is built from; "include" globs followed);
//   5. the default directories (/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib64, ...).
// $ORIGIN (and ${ORIGIN}) expands to the requesting object's directory, $LIB to lib64 / lib,
// $PLATFORM to x86_64. A candidate that is not an x86-64 ELF is skipped, as the loader does.
// In the guest there is no ld.so.cache: a library found only through ld.so.conf is placed in
// /lib/x86_64-linux-gnu, a directory the loader always searches.

import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { invalid } from '../../errors.js';
import { isCompatibleElf, readElf, type ElfInfo } from './elf.js';

export const DEFAULT_LIB_DIRS = [
  '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib',
];
/** Where a library the guest's loader would otherwise not find is placed. */
export const GUEST_LIB_DIR = '/lib/x86_64-linux-gnu';

export interface CollectedFile {
  /** Absolute path in the guest. */
  guest: string;
  /** The file on the host whose content goes there (symlinks resolved). */
  host: string;
  why: string;
}

export interface ResolveOptions {
  /** Host root that absolute paths refer to (tests point it elsewhere); default "/". */
  root?: string;
  ldSoConf?: string;
  /** Host path → guest path for the app and $ORIGIN-relative files; default: same path. */
  guestPath?: (hostPath: string) => string;
}

/** Directories listed by ld.so.conf, following "include" lines (globs of the form dir/*.conf). */
export function ldSoConfDirs(conf: string, seen = new Set<string>()): string[] {
  if (seen.has(conf) || !existsSync(conf)) return [];
  seen.add(conf);
  const dirs: string[] = [];
  for (const raw of readFileSync(conf, 'utf8').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const inc = /^include\s+(.+)$/.exec(line);
    if (inc) {
      for (const pat of inc[1]!.trim().split(/\s+/)) {
        const full = isAbsolute(pat) ? pat : join(dirname(conf), pat);
        for (const f of globFiles(full)) dirs.push(...ldSoConfDirs(f, seen));
      }
    } else if (line.startsWith('/')) {
      dirs.push(line.split(/[\s=]/)[0]!);
    }
  }
  return dirs;
}

/** Expand a glob whose "*" / "?" wildcards are in the last path component only. */
function globFiles(pattern: string): string[] {
  const dir = dirname(pattern);
  const base = basename(pattern);
  if (!/[*?[]/.test(base)) return existsSync(pattern) ? [pattern] : [];
  const re = new RegExp(`^${base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => re.test(n)).sort().map((n) => join(dir, n));
}

function compatible(path: string): boolean {
  let fd: number | undefined;
  try {
    if (!statSync(path).isFile()) return false;
    fd = openSync(path, 'r');
    const head = Buffer.alloc(20);
    return readSync(fd, head, 0, 20, 0) === 20 && isCompatibleElf(head);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function expand(dir: string, origin: string): string {
  return dir
    .replace(/\$\{ORIGIN\}|\$ORIGIN(?![A-Za-z0-9_])/g, origin)
    .replace(/\$\{LIB\}|\$LIB(?![A-Za-z0-9_])/g, 'lib64')
    .replace(/\$\{PLATFORM\}|\$PLATFORM(?![A-Za-z0-9_])/g, 'x86_64');
}

/**
 * The loader and every shared library `app` needs, transitively. The app itself is not in the
 * list. Throws invalid(...) naming the library and the object that needs it when one is missing.
 */
export function resolveLibraries(app: string, opts: ResolveOptions = {}): CollectedFile[] {
  const root = opts.root ?? '/';
  const onHost = (p: string): string => (root === '/' ? p : join(root, p));
  const guestOf = opts.guestPath ?? ((p: string) => p);
  const confDirs = ldSoConfDirs(opts.ldSoConf ?? onHost('/etc/ld.so.conf'));
  const out: CollectedFile[] = [];
  const placed = new Set<string>();
  const visited = new Set<string>();
  const exe = readElf(app);
  const exeRpath = exe.runpath.length === 0 ? exe.rpath.map((d) => expand(d, dirname(realpathSync(app)))) : [];

  const add = (guest: string, hostFound: string, why: string): boolean => {
    const g = posix.normalize(guest);
    if (placed.has(g)) return false;
    placed.add(g);
    out.push({ guest: g, host: realpathSync(hostFound), why });
    return true;
  };

  if (exe.interp !== undefined) {
    const host = onHost(exe.interp);
    if (!compatible(host)) throw invalid(`${app}: its dynamic loader ${exe.interp} is not on this host`);
    add(exe.interp, host, 'PT_INTERP');
    visited.add(realpathSync(host));
  }

  const walk = (obj: string, info: ElfInfo, isExe: boolean): void => {
    const origin = dirname(isExe ? realpathSync(obj) : obj);
    const ownRpath = info.runpath.length === 0 ? info.rpath.map((d) => expand(d, origin)) : [];
    const runpath = info.runpath.map((d) => expand(d, origin));
    for (const name of info.needed) {
      let found: { path: string; via: string } | undefined;
      if (name.includes('/')) {
        const p = isAbsolute(name) ? onHost(name) : resolve(origin, name);
        if (compatible(p)) found = { path: p, via: 'path' };
      } else {
        const search: [string, string[]][] = [
          ['DT_RPATH', info.runpath.length === 0 ? [...ownRpath, ...(isExe ? [] : exeRpath)] : []],
          ['DT_RUNPATH', runpath],
          ['ld.so.conf', confDirs.map(onHost)],
          ['default', DEFAULT_LIB_DIRS.map(onHost)],
        ];
        outer: for (const [via, dirs] of search) {
          for (const dir of dirs) {
            const p = join(dir, name);
            if (compatible(p)) {
              found = { path: p, via };
              break outer;
            }
          }
        }
      }
      if (!found) throw invalid(`${obj} needs ${name}, which was not found (searched its RPATH/RUNPATH, ld.so.conf and ${DEFAULT_LIB_DIRS.join(', ')})`);
      const hostRel = root === '/' ? found.path : '/' + posix.relative(root, found.path);
      let guest: string;
      if (found.via === 'ld.so.conf' && !DEFAULT_LIB_DIRS.includes(dirname(hostRel))) guest = join(GUEST_LIB_DIR, name);
      else if (found.via === 'default' || found.via === 'ld.so.conf') guest = hostRel;
      else guest = guestOf(found.path);
      add(guest, found.path, `${found.via} of ${basename(obj)}`);
      const real = realpathSync(found.path);
      if (visited.has(real)) continue;
      visited.add(real);
      walk(found.path, readElf(found.path), false);
    }
  };
  walk(app, exe, true);
  return out;
}
