// What goes into a linux-family image's initramfs, and its cache key:
//   a container image's root file system (for `from`), /init (cunik-init), /dev/console (the
//   kernel opens it for init's stdio before /dev is mounted), the app and the loader and libraries
//   it needs, the kernel modules in /.cunik/kmod/<release>/ (not /lib/modules, which a container
//   image may have as a symlink), the Cunikfile's files (which override anything else at the same
//   path), /.cunik/{entry,env,modules,modules.volumes,modules.template,workdir,user}: what cunik-init reads (init.c),
//   and the /etc files a Debian program expects (userland.ts) where the image has none.

import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { invalid } from '../../errors.js';
import { BUILDER_VERSION, digestOf, fileDigest } from '../cache.js';
import { mapLimit } from '../../util/map-limit.js';
import { parentDirs, type CpioEntry } from './cpio.js';
import type { CollectedFile } from './libs.js';
import type { ModuleFile } from './modules.js';
import type { TreeRow } from './rootfs.js';
import { HOSTS, netbaseFiles, NSSWITCH, passwdAndGroup, resolveUser, type GroupSpec, type UserSpec } from './userland.js';

export interface InitramfsInput {
  init: string;
  /** A container image's root file system (everything else is laid over it). */
  rootfs?: string;
  /** Its listing, when known (rootfs.ts: listTree, kept with the tree): then it is not walked again. */
  rootfsRows?: TreeRow[];
  /** The app's ELF, for a build from `app` (with a rootfs the app is already in it). */
  app?: { host: string; guest: string };
  libs: CollectedFile[];
  /** `files` are loaded at every boot, `onDemand` when the command line names a volume. */
  modules: { release: string; files: ModuleFile[]; onDemand?: ModuleFile[]; template?: ModuleFile[] };
  files: { host: string; guest: string; mode?: number }[];
  /** argv prefix: the app's guest path (then nothing: the instance's args follow). */
  entry: string[];
  env: string[];
  workdir?: string;
  /** Users and groups the Cunikfile names, added to /etc/passwd and /etc/group. */
  users?: UserSpec[];
  groups?: GroupSpec[];
  /** Where /etc/services and /etc/protocols are taken from; default the build host's /etc. */
  hostEtc?: string;
  /** Who the app runs as (Docker's USER), resolved in the image's final passwd and group. */
  user?: string;
  /**
   * The container's tree goes on a read-only root disk (rootdisk.ts), not in the initramfs: the
   * initramfs then holds the init, the modules and /.cunik/modules, and everything else Cunik lays
   * over the tree (the /etc files, /.cunik/entry..., the Cunikfile's files) under /.cunik/root/,
   * which cunik-init stacks over the disk with overlayfs before it switches root.
   */
  rootDisk?: boolean;
  /** The tree's key, when known (from-cache.ts: treeKeyOf, kept with the tree): the root disk's key without hashing the tree again. */
  rootfsKey?: string;
}

/** Where the layer Cunik lays over a root disk sits in the initramfs (init.c: ROOT_LAYER). */
export const ROOT_LAYER = '/.cunik/root';

/** One cpio archive of the initramfs; its key is the digest of every entry's name, type, mode and content digest. */
export interface InitramfsSegment {
  entries: CpioEntry[];
  key: string;
}

/**
 * The initramfs as concatenated archives, which the kernel unpacks one after the other
 * (Documentation/driver-api/early-userspace/buffer-format.rst): the base (init, app, libraries,
 * modules, /.cunik, a container's tree), then the Cunikfile's files when there are any. Each is
 * compressed and cached on its own, so a changed added file recompresses only its small archive.
 */
export interface InitramfsPlan {
  segments: InitramfsSegment[];
  /** Every segment's entries, in unpacking order. */
  entries: CpioEntry[];
  /** Cache key of the whole: the segments' keys. */
  key: string;
  counts: { libs: number; modules: number; files: number };
  /** With rootDisk: the container's tree, for the root disk, and its cache key (its entries' names, types, modes and contents). */
  disk?: { entries: CpioEntry[]; key: string };
  /** Every entry the guest's root shows (the disk's and the initramfs's), for the runtime checks. */
  guestEntries: CpioEntry[];
}

const nul = (words: string[]): Buffer => Buffer.from(words.map((w) => `${w}\0`).join(''));

/**
 * Expand a Cunikfile `files` item: a file, or a directory copied whole (modes and symlinks kept),
 * owned by root as Docker's COPY makes them; with `owners`, a container's tree keeps its owners
 * (rootfs.ts applied them from the layers: a service that drops to its user needs its own files).
 */
async function expandFile(f: { host: string; guest: string; mode?: number }, out: Map<string, CpioEntry>, owners = false): Promise<number> {
  const st = await stat(f.host).catch(() => {
    throw invalid(`files: ${f.host}: no such file or directory`, 'files');
  });
  if (st.isFile()) {
    out.set(f.guest, { type: 'file', name: f.guest, mode: f.mode ?? st.mode & 0o7777, source: f.host });
    return 1;
  }
  if (!st.isDirectory()) throw invalid(`files: ${f.host} is neither a file nor a directory`, 'files');
  let n = 0;
  const walk = async (host: string, guest: string): Promise<void> => {
    const s = await lstat(host);
    const own = owners && (s.uid !== 0 || s.gid !== 0) ? { uid: s.uid, gid: s.gid } : {};
    if (s.isSymbolicLink()) out.set(guest, { type: 'symlink', name: guest, target: await readlink(host), ...own });
    else if (s.isDirectory()) {
      if (guest !== '/') out.set(guest, { type: 'dir', name: guest, mode: s.mode & 0o7777, ...own });
      for (const name of (await readdir(host)).sort()) await walk(join(host, name), posix.join(guest, name));
    } else if (s.isFile()) {
      out.set(guest, { type: 'file', name: guest, mode: s.mode & 0o7777, source: host, ...own });
      n++;
    }
  };
  await walk(f.host, f.guest);
  return n;
}

/** A container tree's entries from its listing (what expandFile with owners makes of it). */
function fromRows(rootfs: string, rows: TreeRow[]): CpioEntry[] {
  return rows.map(([name, type, mode, uid, gid, target]): CpioEntry => {
    const own = uid !== 0 || gid !== 0 ? { uid, gid } : {};
    if (type === 'l') return { type: 'symlink', name, target: target ?? '', ...own };
    if (type === 'd') return { type: 'dir', name, mode, ...own };
    return { type: 'file', name, mode, source: join(rootfs, name), ...own };
  });
}

/**
 * /etc/passwd, group, hosts, nsswitch.conf, services and protocols, /var/run and /var/tmp, where the
 * image (a container's tree) has none; a container's own passwd and group get the Cunikfile's users
 * and groups appended. A symlink the container has at one of those paths is left as it is.
 */
async function addUserland(inp: InitramfsInput, byPath: Map<string, CpioEntry>): Promise<void> {
  // Nothing at that path, nor a symlink above it (the kernel's unpacker would write through it).
  const absent = (name: string): boolean => !byPath.has(name) && !parentsOf(name).some((p) => byPath.get(p)?.type === 'symlink');
  const text = async (name: string): Promise<string | undefined> => {
    const e = byPath.get(name);
    return e?.type === 'file' && typeof e.source === 'string' ? readFile(e.source, 'utf8') : undefined;
  };
  const file = (name: string, body: string): void => void byPath.set(name, { type: 'file', name, mode: 0o644, source: Buffer.from(body) });
  const users = inp.users ?? [];
  const groups = inp.groups ?? [];
  const passwd = await text('/etc/passwd');
  const group = await text('/etc/group');
  if ((absent('/etc/passwd') || passwd !== undefined) && (absent('/etc/group') || group !== undefined)) {
    const mine = passwdAndGroup(users, groups, { ...(passwd !== undefined && { passwd }), ...(group !== undefined && { group }) });
    if (passwd === undefined || users.length > 0) file('/etc/passwd', mine.passwd);
    if (group === undefined || users.length + groups.length > 0) file('/etc/group', mine.group);
  }
  if (absent('/etc/hosts')) file('/etc/hosts', HOSTS);
  if (absent('/etc/nsswitch.conf')) file('/etc/nsswitch.conf', NSSWITCH);
  for (const f of netbaseFiles(inp.hostEtc)) if (absent(f.guest)) byPath.set(f.guest, { type: 'file', name: f.guest, mode: 0o644, source: f.host });
  if (absent('/var/run')) byPath.set('/var/run', { type: 'symlink', name: '/var/run', target: '/run' });
  if (absent('/var/tmp')) byPath.set('/var/tmp', { type: 'dir', name: '/var/tmp', mode: 0o1777 });
}

function parentsOf(name: string): string[] {
  const out: string[] = [];
  for (let d = posix.dirname(name); d !== '/'; d = posix.dirname(d)) out.push(d);
  return out;
}

/** An entry's owner for a key: nothing for root's, so keys of root-owned trees need no owner. */
const ownerOf = (e: CpioEntry): number[] => ((e.uid ?? 0) !== 0 || (e.gid ?? 0) !== 0 ? [e.uid ?? 0, e.gid ?? 0] : []);

/** What a key covers of each entry: name, type, mode, owner and content digest (bounded: tens of thousands of files, EMFILE otherwise). */
const describe = (entries: CpioEntry[]): Promise<unknown[]> => mapLimit(entries, 32, async (e) => {
  if (e.type === 'file') {
    const content = Buffer.isBuffer(e.source) ? `sha256:${digestOf(e.source.toString('base64'))}` : await fileDigest(e.source);
    return [e.name, 'f', e.mode ?? 0o644, content, ...ownerOf(e)];
  }
  if (e.type === 'symlink') return [e.name, 'l', e.target, ...ownerOf(e)];
  if (e.type === 'char') return [e.name, 'c', e.mode ?? 0o600, e.major, e.minor];
  return [e.name, 'd', e.mode ?? 0o755, ...ownerOf(e)];
});

/** The root disk's cache key: the tree's entries (name, type, mode, content digest) alone. */
const diskKeyOf = async (treeEntries: CpioEntry[]): Promise<string> => digestOf({ step: 'rootdisk', v: BUILDER_VERSION, entries: await describe(treeEntries) });

/** One archive of the initramfs: its entries with their missing parents, in order, and its key. */
async function segment(step: string, body: CpioEntry[]): Promise<InitramfsSegment> {
  const dirsPresent = new Set(body.filter((e) => e.type === 'dir').map((e) => e.name));
  const parents = parentDirs(body.map((e) => e.name), new Set(dirsPresent)).map((name): CpioEntry => ({ type: 'dir', name, mode: 0o755 }));
  // Everything sorted by path, the missing parents included: a path sorts after its own prefix, so
  // each directory comes before what it holds (the kernel's unpacker creates no missing parent: a
  // file whose directory is not there yet is dropped).
  const entries = [...parents, ...body].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const described = await describe(entries);
  return { entries, key: digestOf({ step, v: BUILDER_VERSION, entries: described }) };
}

export async function planInitramfs(inp: InitramfsInput): Promise<InitramfsPlan> {
  const byPath = new Map<string, CpioEntry>();
  const put = (e: CpioEntry): void => void byPath.set(e.name, e);
  if (inp.rootfs !== undefined && inp.rootfsRows !== undefined) for (const e of fromRows(inp.rootfs, inp.rootfsRows)) byPath.set(e.name, e);
  else if (inp.rootfs !== undefined) await expandFile({ host: inp.rootfs, guest: '/' }, byPath, true);
  const tree = new Map(byPath);
  for (const d of ['/dev', '/proc', '/sys', '/tmp', '/run', '/etc', '/.cunik']) put({ type: 'dir', name: d, mode: d === '/tmp' ? 0o1777 : 0o755 });
  await addUserland(inp, byPath);
  put({ type: 'char', name: '/dev/console', mode: 0o600, major: 5, minor: 1 });
  put({ type: 'file', name: '/init', mode: 0o755, source: inp.init });
  if (inp.app) put({ type: 'file', name: inp.app.guest, mode: 0o755, source: inp.app.host });
  const firstGuest = new Map<string, string>(inp.app ? [[inp.app.host, inp.app.guest]] : []);
  for (const lib of inp.libs) {
    const first = firstGuest.get(lib.host);
    if (first !== undefined) put({ type: 'symlink', name: lib.guest, target: first });
    else {
      firstGuest.set(lib.host, lib.guest);
      put({ type: 'file', name: lib.guest, mode: 0o755, source: lib.host });
    }
  }
  const modDir = `/.cunik/kmod/${inp.modules.release}`;
  const onDemand = inp.modules.onDemand ?? [];
  const forTemplate = (inp.modules.template ?? []).filter((m) => !onDemand.some((o) => o.name === m.name));
  for (const m of [...inp.modules.files, ...onDemand, ...forTemplate]) put({ type: 'file', name: `${modDir}/${m.rel}`, mode: 0o644, source: m.path });
  put({ type: 'file', name: '/.cunik/entry', source: nul(inp.entry) });
  put({ type: 'file', name: '/.cunik/env', source: nul(inp.env) });
  const list = (files: ModuleFile[]): Buffer => Buffer.from(files.map((m) => `${modDir}/${m.rel}\n`).join(''));
  put({ type: 'file', name: '/.cunik/modules', source: list(inp.modules.files) });
  if (onDemand.length > 0) put({ type: 'file', name: '/.cunik/modules.volumes', source: list(onDemand) });
  if (inp.modules.template !== undefined && inp.modules.template.length > 0) put({ type: 'file', name: '/.cunik/modules.template', source: list(inp.modules.template) });
  if (inp.workdir !== undefined) put({ type: 'file', name: '/.cunik/workdir', source: Buffer.from(`${inp.workdir}\n`) });
  // The Cunikfile's files go in a second archive of their own (below); they replace whatever the
  // base holds at the same path.
  const added = new Map<string, CpioEntry>();
  let files = 0;
  for (const f of inp.files) files += await expandFile(f, added);
  for (const name of added.keys()) byPath.delete(name);
  if (inp.user !== undefined) {
    // The passwd and group the guest will have: an added file wins over the base's.
    const etc = async (name: string): Promise<string> => {
      const e = added.get(name) ?? byPath.get(name);
      if (e?.type !== 'file') return '';
      return Buffer.isBuffer(e.source) ? e.source.toString('utf8') : readFile(e.source, 'utf8');
    };
    const who = resolveUser(inp.user, await etc('/etc/passwd'), await etc('/etc/group'));
    put({ type: 'file', name: '/.cunik/user', source: Buffer.from(`${who.uid} ${who.gid} ${who.groups.join(',')}\n`) });
  }

  const counts = { libs: inp.libs.length, modules: inp.modules.files.length, files };
  if (inp.rootDisk === true) return rootDiskPlan(tree, byPath, added, counts, inp.rootfsKey);
  const base = await segment('initramfs-base', [...byPath.values()]);
  const extra = await segment('initramfs-files', [...added.values()]);
  const segments = extra.entries.length > 0 ? [base, extra] : [base];
  const entries = segments.flatMap((g) => g.entries);
  return {
    segments,
    entries,
    guestEntries: entries,
    key: digestOf({ step: 'initramfs', v: BUILDER_VERSION, segments: segments.map((g) => g.key) }),
    counts,
  };
}

/** What the init itself reads before it switches to the root disk: it stays at the initramfs's top. */
const initOwn = (name: string): boolean => name === '/init' || name === '/dev/console' || name === '/.cunik/modules' || name === '/.cunik/modules.volumes' || name === '/.cunik/modules.template' || name.startsWith('/.cunik/kmod/');

/**
 * The plan with a root disk: the whole container tree on the disk; what Cunik laid over it (its
 * /etc files, mount points, /.cunik/entry...) and the Cunikfile's files under ROOT_LAYER in the
 * initramfs, so that neither changes the disk (nor its key): a changed added file or a second
 * Cunikfile on the same base reuses the disk.
 */
async function rootDiskPlan(tree: Map<string, CpioEntry>, byPath: Map<string, CpioEntry>, added: Map<string, CpioEntry>, counts: InitramfsPlan['counts'], known?: string): Promise<InitramfsPlan> {
  const treeEntries = [...tree.values()];
  const over = [...byPath.values()].filter((e) => tree.get(e.name) !== e);
  const layered = (e: CpioEntry): CpioEntry => ({ ...e, name: `${ROOT_LAYER}${e.name}` });
  const top: CpioEntry[] = ['/dev', '/proc', '/sys', '/tmp'].map((name) => ({ type: 'dir', name, mode: 0o755 }));
  const base = await segment('rootdisk-initramfs', [...top, ...over.filter((e) => initOwn(e.name)), ...over.filter((e) => !initOwn(e.name)).map(layered)]);
  const extra = await segment('rootdisk-files', [...added.values()].map(layered));
  const segments = extra.entries.length > 0 ? [base, extra] : [base];
  const diskKey = known ?? (await diskKeyOf(treeEntries));
  const guest = new Map(tree);
  for (const e of [...over.filter((o) => !initOwn(o.name)), ...added.values()]) guest.set(e.name, e);
  return {
    segments,
    entries: segments.flatMap((g) => g.entries),
    guestEntries: [...guest.values()],
    key: digestOf({ step: 'initramfs', v: BUILDER_VERSION, segments: segments.map((g) => g.key), disk: diskKey }),
    counts,
    disk: { entries: treeEntries, key: diskKey },
  };
}
