// The unprivileged user VMs run as (docs/qemu.md, "Confinement"). A root daemon's QEMUs switch to
// it (-runas) once they have opened the files their command line names, and passt runs as it too.
// One system user for all VMs, as libvirt's qemu user: 9p shares written by one VM (files 0600 of
// the QEMU's uid, under mapped-xattr) stay readable by the next VM that mounts the same volume.
// setup.sh creates it; a daemon that finds it missing creates it (useradd --system), and when it
// cannot, runs its VMs as nobody and says so (cunik info, daemon log).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';

export const DEFAULT_VM_USER = 'cunik-vm';

export interface VmUser {
  name: string;
  uid: number;
  gid: number;
  /** The VMs switch to this user (the daemon is root); false: they run as the daemon's own user. */
  switches: boolean;
  /** Why the VMs do not run as the configured user, when they do not. */
  warning?: string;
}

/** uid and gid of `name` in a passwd file's text; undefined when it has no such line. */
export function passwdEntry(passwd: string, name: string): { uid: number; gid: number } | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] !== name || f.length < 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (Number.isInteger(uid) && Number.isInteger(gid) && uid >= 0 && gid >= 0) return { uid, gid };
  }
  return undefined;
}

export interface ResolveOptions {
  /** Default /etc/passwd. */
  passwdFile?: string;
  /** Make the user; default useradd --system. Rejects when it cannot. */
  create?: (name: string) => Promise<void>;
  /** Default process.geteuid(). */
  euid?: number;
}

const useradd = async (name: string): Promise<void> => {
  await promisify(execFile)('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', 'Cunik VMs', name]);
};

/**
 * The user a root daemon's VMs run as: `name`, made if missing. Root never: when `name` cannot be
 * had, nobody, with a warning. A daemon that is not root runs its VMs as itself.
 */
export async function resolveVmUser(name = DEFAULT_VM_USER, opts: ResolveOptions = {}): Promise<VmUser> {
  const euid = opts.euid ?? process.geteuid?.() ?? 0;
  if (euid !== 0) {
    const gid = process.getegid?.() ?? euid;
    let self = String(euid);
    try {
      self = userInfo().username;
    } catch {
      // a uid without a passwd entry: its number
    }
    return { name: self, uid: euid, gid, switches: false };
  }
  const passwdFile = opts.passwdFile ?? '/etc/passwd';
  const lookup = (who: string): { uid: number; gid: number } | undefined => {
    try {
      return passwdEntry(readFileSync(passwdFile, 'utf8'), who);
    } catch {
      return undefined;
    }
  };
  let found = lookup(name);
  let why = '';
  // Two daemons starting at once may both try: useradd fails for the second (the user exists, or
  // /etc/passwd is locked), which the next lookup settles.
  for (let attempt = 0; found === undefined && attempt < 3; attempt++) {
    try {
      await (opts.create ?? useradd)(name);
    } catch (err) {
      why = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n')[0] ?? '';
      if (attempt < 2) await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
    found = lookup(name);
  }
  if (found !== undefined && found.uid !== 0) return { name, ...found, switches: true };
  if (found !== undefined) why = `it has uid 0`;
  const nobody = lookup('nobody') ?? { uid: 65534, gid: 65534 };
  return { name: 'nobody', ...nobody, switches: true, warning: `VMs run as nobody: the VM user ${name} could not be had (${why || 'no such user'})` };
}

/** QEMU's and passt's --runas argument. */
export const runasArg = (u: Pick<VmUser, 'uid' | 'gid'>): string => `${u.uid}:${u.gid}`;
