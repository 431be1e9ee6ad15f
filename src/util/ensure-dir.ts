// Making a directory a daemon must own (its root, its socket's folder), with an error a user can
// act on. Node's recursive mkdir loops forever under /proc (`cunikd --root /proc/x` hung) and
// reports a read-only file system as ENOENT; so each missing component is made on its own, and
// the result is proved writable by making (and removing) a probe inside it.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

function reason(err: NodeJS.ErrnoException, where: string): string {
  switch (err.code) {
    case 'EROFS':
      return `${where} is on a read-only file system`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${where}`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `${where} is not a directory`;
    case 'ENOENT':
      return `${where} does not take new directories (a virtual file system such as /proc?)`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `no space left on ${where}`;
    default:
      return `${where}: ${err.code ?? err.message}`;
  }
}

/** `what` names the directory in the message, e.g. "the root" → "cannot use /x as the root: ...". */
export async function ensureDir(path: string, mode: number, what: string): Promise<void> {
  const dir = resolve(path);
  const fail = (why: string): never => {
    throw new Error(`cannot use ${dir} as ${what}: ${why}`);
  };
  // The nearest existing ancestor must be a directory; below it, make each component in turn.
  const missing: string[] = [];
  for (let p = dir; ; p = dirname(p)) {
    const st = await stat(p).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? undefined : fail(reason(err, p))));
    if (st) {
      if (!st.isDirectory()) fail(`${p} is not a directory`);
      break;
    }
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    const made = await mkdir(p, { mode }).then(() => true, (err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? false : fail(reason(err, dirname(p)))));
    if (made) await chmod(p, mode); // exactly `mode`: the daemon's umask (077) would narrow it
  }
  const probe = join(dir, `.probe-${randomBytes(6).toString('hex')}`);
  await mkdir(probe).catch((err: NodeJS.ErrnoException) => fail(reason(err, dir)));
  await rmdir(probe);
}
