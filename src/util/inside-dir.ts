// A path named relative to a directory (a Cunikfile's files in its build context, a docker
// archive's manifest paths) resolved on the host after every symlink, and refused unless it is
// still inside that directory: a symlink in a context to /etc/shadow must not copy the host's file.
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';

const within = (dir: string, p: string): boolean => {
  const rel = relative(dir, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel));
};

/**
 * `dir/rel`, if it lies inside `dir` once symlinks are followed; otherwise undefined. A path that
 * does not exist is judged by its deepest existing parent (so "no such file" says nothing about
 * the host) and returned as named, for the caller's own "not found". The path is returned as
 * named (a context's symlinked app keeps its name in the guest): callers use this on directories
 * that only the daemon writes, so nothing can swap a symlink between this check and the read.
 */
export function insideDir(dir: string, rel: string): string | undefined {
  const realDir = realpathSync(dir);
  const named = resolve(dir, rel);
  if (!within(resolve(dir), named)) return undefined;
  for (let p = resolve(realDir, rel); ; p = dirname(p)) {
    try {
      return within(realDir, realpathSync(p)) ? named : undefined;
    } catch {
      if (!within(realDir, dirname(p))) return named; // nothing of it exists inside
    }
  }
}
