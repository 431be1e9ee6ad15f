// A writer for the "newc" cpio format, which the Linux kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst): each entry is a 110-byte ASCII
// header ("070701" then 13 eight-digit hex fields), the NUL-terminated name padded to a multiple
// of 4, then the data padded to a multiple of 4; the archive ends with "TRAILER!!!".
// Output is deterministic: mtime 0, inode numbers in entry order; owners are the entries' (root
// unless a container image's layer says otherwise: rootfs.ts keeps its owners).

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

/** Who owns an entry; root when absent. */
export interface Owner { uid?: number; gid?: number }

export type CpioEntry = Owner & (
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'file'; name: string; mode?: number; source: string | Buffer }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'char'; name: string; mode?: number; major: number; minor: number });

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

export function cpioHeader(f: {
  ino: number; mode: number; uid?: number; gid?: number; nlink: number; size: number; rdevMajor?: number; rdevMinor?: number; name: string;
}): Buffer {
  const name = Buffer.from(`${f.name}\0`);
  const fields = [f.ino, f.mode, f.uid ?? 0, f.gid ?? 0, f.nlink, 0, f.size, 0, 0, f.rdevMajor ?? 0, f.rdevMinor ?? 0, name.length, 0];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return Buffer.concat([head, name, pad4(head.length + name.length)]);
}

/** The archive's bytes, entry by entry (file data streamed from disk). */
export async function* cpioStream(entries: Iterable<CpioEntry>): AsyncGenerator<Buffer> {
  let ino = 1;
  for (const e of entries) {
    const name = e.name.replace(/^\/+/, '') || '.';
    const own = { uid: e.uid ?? 0, gid: e.gid ?? 0 };
    if (e.type === 'dir') {
      yield cpioHeader({ ...own, ino: ino++, mode: S_IFDIR | (e.mode ?? 0o755), nlink: 2, size: 0, name });
    } else if (e.type === 'symlink') {
      const target = Buffer.from(e.target);
      yield cpioHeader({ ...own, ino: ino++, mode: S_IFLNK | 0o777, nlink: 1, size: target.length, name });
      yield Buffer.concat([target, pad4(target.length)]);
    } else if (e.type === 'char') {
      yield cpioHeader({ ...own, ino: ino++, mode: S_IFCHR | (e.mode ?? 0o600), nlink: 1, size: 0, rdevMajor: e.major, rdevMinor: e.minor, name });
    } else {
      const mode = S_IFREG | (e.mode ?? 0o644);
      if (Buffer.isBuffer(e.source)) {
        yield cpioHeader({ ...own, ino: ino++, mode, nlink: 1, size: e.source.length, name });
        yield e.source;
        yield pad4(e.source.length);
        continue;
      }
      const size = (await stat(e.source)).size;
      yield cpioHeader({ ...own, ino: ino++, mode, nlink: 1, size, name });
      let got = 0;
      for await (const chunk of createReadStream(e.source, { highWaterMark: 1 << 20 })) {
        got += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (got !== size) throw new Error(`${e.source} changed size while being archived`);
      yield pad4(size);
    }
  }
  yield cpioHeader({ ino: 0, mode: 0, nlink: 1, size: 0, name: 'TRAILER!!!' });
}

/** Write a gzip-compressed newc archive (what the kernel's CONFIG_RD_GZIP unpacks). */
export async function writeCpioGz(entries: Iterable<CpioEntry>, out: string, level = 6): Promise<void> {
  await pipeline(Readable.from(cpioStream(entries)), createGzip({ level }), createWriteStream(out, { mode: 0o644 }));
}

/**
 * Parent directories for a set of paths, each once, parents first, so the kernel can create
 * every entry (it does not make missing parents itself).
 */
export function parentDirs(paths: Iterable<string>, existing: Set<string> = new Set()): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const d = '/' + parts.slice(0, i).join('/');
      if (!existing.has(d)) {
        existing.add(d);
        out.push(d);
      }
    }
  }
  return out;
}
