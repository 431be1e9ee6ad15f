// Applying container image layers to a directory, as a container runtime's snapshotter does
// (OCI image-spec layer.md "Applying Changesets"): layers in order; a file ".wh.NAME" deletes NAME
// from the layers below; ".wh..wh..opq" hides everything the layers below put in its directory.
// Every path is resolved inside the root (symlinks included, as the guest will see them), so no
// entry can write outside it; names are checked by src/util/tar-guard.ts (no "..", root-relative
// as layers' names are). Device and fifo entries are skipped: /dev is devtmpfs in the guest, and
// nothing from a tar makes a device on the host. Owners are the headers' uid and gid (numeric, as
// a runtime applies them), so a service that drops to its own user finds its files its own; the
// daemon runs as root, and a builder that is not root keeps its own (it cannot give them away).

import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rm, symlink, link, chmod, lchown } from 'node:fs/promises';
import { posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { invalid } from '../../errors.js';
import { TarGuard } from '../../util/tar-guard.js';

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * The host path of `guestPath` inside `root`, following symlinks of the parent directories as the
 * guest would see them (absolute targets are taken relative to root); never outside root.
 */
export async function resolveIn(root: string, guestPath: string, followLast = false): Promise<string> {
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
    const st = await lstat(candidate).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (++hops > 40) throw invalid(`${guestPath}: too many levels of symbolic links`);
      const target = await readlink(candidate);
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(part);
  }
  return posix.join(root, ...done);
}

async function decompressed(file: string): Promise<Readable> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(4);
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) throw invalid(`${file}: zstd-compressed layers are not supported yet`, 'from');
  const src = createReadStream(file);
  if (head[0] !== 0x1f || head[1] !== 0x8b) return src;
  const gunzip = createGunzip();
  src.on('error', (e) => gunzip.destroy(e));
  return src.pipe(gunzip);
}

const asRoot = process.getuid?.() === 0;

/** Give `path` the header's owner (before any chmod: chown clears set-id bits). */
async function own(path: string, h: { uid?: number; gid?: number }): Promise<void> {
  const uid = h.uid ?? 0;
  const gid = h.gid ?? 0;
  if (asRoot && Number.isSafeInteger(uid) && Number.isSafeInteger(gid) && uid >= 0 && gid >= 0) await lchown(path, uid, gid);
}

/** Apply one layer (a tar, plain or gzip) onto `root`. Returns how many entries it held. */
export async function applyLayer(root: string, layerFile: string, what = layerFile): Promise<number> {
  const extract = tarExtract();
  const input = await decompressed(layerFile);
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
        const base = posix.basename(name);
        const parent = await resolveIn(root, posix.dirname(name), true);
        if (name === '/' || name === '') {
          entry.resume();
          continue;
        }
        if (base === OPAQUE) {
          for (const child of await readdir(parent).catch(() => [] as string[])) await rm(posix.join(parent, child), { recursive: true, force: true });
          entry.resume();
          continue;
        }
        if (base.startsWith(WH)) {
          await rm(posix.join(parent, base.slice(WH.length)), { recursive: true, force: true });
          entry.resume();
          continue;
        }
        // Parents the layer has no entry for are 0755 as tar makes them (the daemon's umask is 077).
        const first = await mkdir(parent, { recursive: true });
        if (first !== undefined) for (let d = parent; ; d = posix.dirname(d)) {
          await chmod(d, 0o755);
          if (d === first || d === root) break;
        }
        const dest = posix.join(parent, base);
        const mode = (h.mode ?? 0o644) & 0o7777;
        const existing = await lstat(dest).catch(() => undefined);
        if (h.type === 'directory') {
          if (existing && !existing.isDirectory()) await rm(dest, { recursive: true, force: true });
          if (!existing?.isDirectory()) await mkdir(dest, { mode });
          await own(dest, h);
          await chmod(dest, mode);
          entry.resume();
          continue;
        }
        if (existing) await rm(dest, { recursive: true, force: true });
        if (h.type === 'file' || h.type === 'contiguous-file') {
          const fh = await open(dest, 'wx', mode);
          try {
            for await (const chunk of entry) await fh.write(chunk as Buffer);
          } finally {
            await fh.close();
          }
          await own(dest, h);
          await chmod(dest, mode);
        } else if (h.type === 'symlink') {
          await symlink(h.linkname ?? '', dest);
          await own(dest, h);
          entry.resume();
        } else if (h.type === 'link') {
          await link(await resolveIn(root, '/' + guard.path(h.linkname ?? '', 'hard link to')), dest).catch(() => undefined);
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
  return n;
}
