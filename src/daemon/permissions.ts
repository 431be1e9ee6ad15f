// Who may see the daemon's files and use its socket (docs/security.md).
//
// The root is the daemon's alone, as Docker's /var/lib/docker is: 0700, or 0710 with the `cunik`
// group (members may pass through it, nothing more: every directory below is 0700). The daemon runs
// with umask 077, so everything it and the processes it starts (spawner, shims, QEMU) create is
// theirs only; modes that are content (a build context's files, a container image's tree, a share
// volume's top folder, as the guest sees them) are set explicitly where they are made. A root made
// by an older daemon is tightened at start: group and other bits off everything under it, except
// inside share volumes' data folders, whose modes are the guest's.
//
// The socket is root-equivalent (whoever can use it can run any kernel with any host file as its
// disk): root:cunik 0660, or root only when there is no such group.
//
// VMs that run as an unprivileged user (QEMU -runas) need none of this loosened: QEMU opens every
// file its command line names (kernel, initrd, drives, console log, QMP socket, a 9p share's folder)
// before it drops its privileges, and works through those descriptors afterwards.
import { chmodSync, chownSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../errors.js';

export const DAEMON_UMASK = 0o077;
export const DEFAULT_GROUP = 'cunik';

export interface DaemonGroup {
  name: string;
  gid: number;
}

/** A group's gid from /etc/group (where groupadd and addgroup put it), or undefined. */
export function lookupGroup(name: string, groupFile = '/etc/group'): number | undefined {
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

/**
 * The group given access: --group NAME (which must exist), else `cunik` when the daemon is root and
 * the group exists, else none.
 */
export function daemonGroup(
  requested: string | undefined,
  isRoot = process.getuid?.() === 0,
  lookup: (name: string) => number | undefined = (n) => lookupGroup(n),
): DaemonGroup | undefined {
  if (requested !== undefined) {
    const gid = lookup(requested);
    if (gid === undefined) throw invalid(`--group: there is no group ${requested} (create it with: groupadd ${requested})`, 'group');
    return { name: requested, gid };
  }
  if (!isRoot) return undefined;
  const gid = lookup(DEFAULT_GROUP);
  return gid === undefined ? undefined : { name: DEFAULT_GROUP, gid };
}

/** Is `rel` (a path under the root) inside a share volume's data folder (volumes/NAME/data/...)? */
const guestOwned = (rel: string[]): boolean => rel.length >= 3 && rel[0] === 'volumes' && rel[2] === 'data';

/**
 * The root 0700 (0710 and group-owned with a group), and group/other bits off everything under it,
 * without following symlinks. Returns how many entries had to be changed.
 */
export function secureRoot(root: string, group: DaemonGroup | undefined): number {
  const st = lstatSync(root);
  if (group !== undefined && st.gid !== group.gid) {
    try {
      chownSync(root, st.uid, group.gid);
    } catch (err) {
      throw invalid(`--group: cannot give ${root} to group ${group.name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'group');
    }
  }
  chmodSync(root, group !== undefined ? 0o710 : 0o700);
  let changed = 0;
  const walk = (dir: string, rel: string[]): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // removed meanwhile
    }
    for (const name of names) {
      const path = join(dir, name);
      const here = [...rel, name];
      if (guestOwned(here)) continue;
      let s;
      try {
        s = lstatSync(path);
      } catch {
        continue;
      }
      if (s.isSymbolicLink()) continue;
      if ((s.mode & 0o077) !== 0) {
        try {
          chmodSync(path, s.mode & 0o7700);
          changed++;
        } catch {
          // removed meanwhile
        }
      }
      if (s.isDirectory()) walk(path, here);
    }
  };
  walk(root, []);
  return changed;
}

/** The listening socket: 0660, group-owned with a group (root only otherwise). */
export async function secureSocket(path: string, group: DaemonGroup | undefined): Promise<void> {
  if (group !== undefined) await chown(path, process.getuid?.() ?? 0, group.gid);
  await chmod(path, 0o660);
}
