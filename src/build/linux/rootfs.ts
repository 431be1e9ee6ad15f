// Applying container image layers to a directory, as a container runtime's snapshotter does
// (OCI image-spec layer.md "Applying Changesets"): layers in order; a file ".wh.NAME" deletes NAME
// from the layers below; ".wh..wh..opq" hides everything the layers below put in its directory.
// Every path is resolved inside the root (symlinks included, as the guest will see them), so no
// entry can write outside it; names are checked by src/util/tar-guard.ts (no "..", root-relative
// as layers' names are). Device and fifo entries are skipped: /dev is devtmpfs in the guest, and
// nothing from a tar makes a device on the host. Owners are the headers' uid and gid (numeric, as
// a runtime applies them), so a service that drops to its own user finds its files its own; the
// daemon runs as root, and a builder that is not root keeps its own (it cannot give them away).
//
// The work runs in a worker thread (layer-worker.ts) with synchronous file system calls: a real
// image is ~10,000 entries, and one awaited call per lstat, mkdir, write and chmod cost more than
// the writing itself (4.6 s of JavaScript for a Debian minbase, where GNU tar takes 0.3 s). The
// worker also hashes each layer as it reads it (the diff_id, computed rather than taken from the
// untrusted config) and counts what the tree takes resident, so nothing reads the tree again.

import { createHash } from 'node:crypto';
import {
  chmodSync, closeSync, createReadStream, linkSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync,
  rmSync, symlinkSync, writeSync, type Stats,
} from 'node:fs';
import { posix } from 'node:path';
import { decompressor, SNIFF_BYTES, sniffCompression } from '../../util/decompress.js';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { extract as tarExtract, type Header } from 'tar-stream';
import { CunikError, invalid } from '../../errors.js';
import { TarGuard } from '../../util/tar-guard.js';
import { ENTRY_OVERHEAD, PAGE } from './footprint.js';

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

const lstatOrNot = (p: string): Stats | undefined => lstatSync(p, { throwIfNoEntry: false });

/**
 * The host path of `guestPath` inside `root`, following symlinks of the parent directories as the
 * guest would see them (absolute targets are taken relative to root); never outside root.
 */
export function resolveInSync(root: string, guestPath: string, followLast = false): string {
  const parts = guestPath.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = posix.join(root, ...done, part);
    if (parts.length === 0 && !followLast) {
      done.push(part);
      break;
    }
    if (lstatOrNot(candidate)?.isSymbolicLink()) {
      if (++hops > 40) throw invalid(`${guestPath}: too many levels of symbolic links`);
      const target = readlinkSync(candidate);
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(part);
  }
  return posix.join(root, ...done);
}

export const resolveIn = async (root: string, guestPath: string, followLast = false): Promise<string> => resolveInSync(root, guestPath, followLast);

/**
 * Guest directories resolved to host directories that exist, made (0755, as tar makes parents it
 * has no entry for; the daemon's umask is 077) where missing. Anything removed or replaced may
 * have been a directory or a symlink some resolution went through: the cache is then dropped.
 */
class Dirs {
  private readonly known = new Map<string, string>();
  constructor(private readonly root: string) {}

  forget(): void {
    this.known.clear();
  }

  get(guest: string): string {
    if (guest === '/') return this.root;
    const hit = this.known.get(guest);
    if (hit !== undefined) return hit;
    const parent = this.get(posix.dirname(guest));
    let host = posix.join(parent, posix.basename(guest));
    let st = lstatOrNot(host);
    if (st?.isSymbolicLink()) {
      host = resolveInSync(this.root, guest, true);
      st = lstatOrNot(host);
    }
    if (st === undefined) {
      const first = mkdirSync(host, { recursive: true });
      if (first !== undefined) for (let d = host; ; d = posix.dirname(d)) {
        chmodSync(d, 0o755);
        if (d === first || d === this.root) break;
      }
    } else if (!st.isDirectory()) {
      throw new Error(`${guest} is not a directory`);
    }
    this.known.set(guest, host);
    return host;
  }
}

const asRoot = process.getuid?.() === 0;

/** Give `path` the header's owner (before any chmod: chown clears set-id bits). */
function own(path: string, h: Header): void {
  const uid = h.uid ?? 0;
  const gid = h.gid ?? 0;
  if (asRoot && Number.isSafeInteger(uid) && Number.isSafeInteger(gid) && uid >= 0 && gid >= 0) lchownSync(path, uid, gid);
}

function decompressed(file: string): Readable {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(SNIFF_BYTES);
  try {
    readSync(fd, head, 0, SNIFF_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  const src = createReadStream(file, { highWaterMark: 1 << 20 });
  const kind = sniffCompression(head);
  if (kind === undefined) return src;
  const inflate = decompressor(kind, { chunkSize: 1 << 20 });
  src.on('error', (e) => inflate.destroy(e));
  return src.pipe(inflate);
}

/** Apply one layer here, synchronously entry by entry; returns its entry count and its diff_id. */
async function applyOne(root: string, dirs: Dirs, layerFile: string, what: string): Promise<{ entries: number; diffId: string }> {
  const extract = tarExtract();
  const input = decompressed(layerFile);
  const hash = createHash('sha256');
  input.on('data', (c: Buffer) => hash.update(c));
  input.on('error', (e) => extract.destroy(e));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  let n = 0;
  const guard = new TarGuard({ what, rootRelative: true, field: 'from' });
  try {
    for await (const entry of extract) {
      try {
        n++;
        const h = entry.header;
        const name = '/' + guard.path(h.name);
        if (name === '/') {
          entry.resume();
          continue;
        }
        const base = posix.basename(name);
        const parent = dirs.get(posix.dirname(name));
        if (base === OPAQUE) {
          for (const child of readdirSync(parent)) rmSync(posix.join(parent, child), { recursive: true, force: true });
          dirs.forget();
          entry.resume();
          continue;
        }
        if (base.startsWith(WH)) {
          rmSync(posix.join(parent, base.slice(WH.length)), { recursive: true, force: true });
          dirs.forget();
          entry.resume();
          continue;
        }
        const dest = posix.join(parent, base);
        const mode = (h.mode ?? 0o644) & 0o7777;
        const existing = lstatOrNot(dest);
        if (h.type === 'directory') {
          if (existing && !existing.isDirectory()) {
            rmSync(dest, { recursive: true, force: true });
            dirs.forget();
          }
          if (!existing?.isDirectory()) mkdirSync(dest, { mode });
          own(dest, h);
          chmodSync(dest, mode);
          entry.resume();
          continue;
        }
        if (existing) {
          rmSync(dest, { recursive: true, force: true });
          // Only a directory or a symlink can be on a resolved path: a replaced file (common in
          // upper layers) leaves the cache as it is.
          if (existing.isDirectory() || existing.isSymbolicLink()) dirs.forget();
        }
        if (h.type === 'file' || h.type === 'contiguous-file') {
          const fd = openSync(dest, 'wx', mode);
          try {
            for await (const chunk of entry) writeSync(fd, chunk as Buffer);
          } finally {
            closeSync(fd);
          }
          own(dest, h);
          chmodSync(dest, mode);
        } else if (h.type === 'symlink') {
          symlinkSync(h.linkname ?? '', dest);
          own(dest, h);
          entry.resume();
        } else if (h.type === 'link') {
          const target = guard.path(h.linkname ?? '', 'hard link to');
          try {
            linkSync(resolveInSync(root, '/' + target), dest);
          } catch { /* a link to nothing the layers hold: skipped, as before */ }
          entry.resume();
        } else {
          entry.resume(); // devices, fifos: /dev is devtmpfs in the guest
        }
      } catch (err) {
        entry.destroy(); // an unread entry holds the extract: without this, the loop's cleanup waits forever
        throw err;
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'INVALID_ARGUMENT') throw err;
    throw invalid(`${what}: cannot apply the layer: ${(err as Error).message}`, 'from');
  }
  return { entries: n, diffId: `sha256:${hash.digest('hex')}` };
}

/** One entry of an applied tree: guest path, type, mode, owner, and a symlink's target. */
export type TreeRow = [name: string, type: 'd' | 'f' | 'l', mode: number, uid: number, gid: number, target?: string];

/** What applying layers made. */
export interface AppliedTree {
  /** Entries of every layer. */
  entries: number;
  /** Each layer's diff_id (the sha256 of its uncompressed tar), as read. */
  diffIds: string[];
  /** What the tree takes unpacked in a guest's memory (footprint.ts: residentBytes). */
  resident: number;
}

/**
 * The tree under `root` (directories, files, symlinks; sorted, parents first) and what it takes
 * unpacked in a guest's memory (footprint.ts: residentBytes, by lstat alone): listed once, when
 * the layers are applied, and kept with the tree, so a warm build does not walk it again.
 */
export function listTree(root: string): { rows: TreeRow[]; resident: number } {
  const rows: TreeRow[] = [];
  let resident = ENTRY_OVERHEAD;
  const walk = (host: string, guest: string): void => {
    for (const name of readdirSync(host).sort()) {
      const h = posix.join(host, name);
      const g = posix.join(guest, name);
      const st = lstatSync(h);
      resident += ENTRY_OVERHEAD;
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) {
        resident += PAGE;
        rows.push([g, 'l', mode, st.uid, st.gid, readlinkSync(h)]);
      } else if (st.isDirectory()) {
        rows.push([g, 'd', mode, st.uid, st.gid]);
        walk(h, g);
      } else if (st.isFile()) {
        resident += Math.ceil(st.size / PAGE) * PAGE;
        rows.push([g, 'f', mode, st.uid, st.gid]);
      }
    }
  };
  walk(root, '/');
  return { rows, resident };
}

/** Apply `layers` in order onto `root`, in this thread (layer-worker.ts runs it). */
export async function applyLayersHere(root: string, layers: { file: string; what: string }[]): Promise<AppliedTree & { rows: TreeRow[] }> {
  const dirs = new Dirs(root);
  let entries = 0;
  const diffIds: string[] = [];
  for (const l of layers) {
    const one = await applyOne(root, dirs, l.file, l.what);
    entries += one.entries;
    diffIds.push(one.diffId);
  }
  return { entries, diffIds, ...listTree(root) };
}

/** The worker's answer. */
export type WorkerReply = { ok: AppliedTree & { rows: TreeRow[] } } | { error: { message: string; code?: string; field?: string } };

/** Apply `layers` in order onto `root`, in a worker thread. */
export function applyLayers(root: string, layers: { file: string; what: string }[]): Promise<AppliedTree & { rows: TreeRow[] }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./layer-worker.js', import.meta.url), { workerData: { root, layers } });
    let settled = false;
    worker.once('message', (m: WorkerReply) => {
      settled = true;
      if ('ok' in m) resolve(m.ok);
      else reject(m.error.code === 'INVALID_ARGUMENT' ? invalid(m.error.message, m.error.field) : new Error(m.error.message));
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`applying the layers stopped (worker exit ${code})`));
    });
  });
}

/** Apply one layer (a tar, plain or compressed) onto `root`. Returns how many entries it held. */
export async function applyLayer(root: string, layerFile: string, what = layerFile): Promise<number> {
  return (await applyLayers(root, [{ file: layerFile, what }])).entries;
}

/** The error a worker sends back, as plain data. */
export function replyOfError(err: unknown): WorkerReply {
  const e = err as Error;
  return { error: { message: e.message, ...(e instanceof CunikError && { code: e.code, ...(e.field !== undefined && { field: e.field }) }) } };
}
