// Small file-system helpers for the image store: atomic writes (temp file in the same
// directory, fsync, rename, fsync the directory) and quiet removal.

import {
  openSync, writeSync, fsyncSync, closeSync, renameSync, rmSync, unlinkSync, mkdirSync,
} from 'node:fs';
import { randomBytes, createHash, type Hash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';

export const TMP_PREFIX = '.tmp-';

export function tmpName(dir: string, base: string): string {
  return join(dir, `${TMP_PREFIX}${base}-${randomBytes(6).toString('hex')}`);
}

export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write a file atomically and durably, synchronously (used for small metadata files). */
export function atomicWriteFileSync(path: string, data: string | Buffer, mode = 0o644): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = tmpName(dir, basename(path));
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    removeQuiet(tmp);
    throw err;
  }
  fsyncDir(dir);
}

export function removeQuiet(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    try { unlinkSync(path); } catch { /* already gone */ }
  }
}

/** Byte chunks from a node stream, a streamx stream (tar-stream) or an array. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** streamx streams (tar-stream's) are async-iterable at run time but not in their typings. */
export const bytesOf = (s: object): AsyncIterable<Uint8Array> => s as AsyncIterable<Uint8Array>;

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A pass-through that hashes and counts what flows through it. */
export class HashingStream extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  hex(): string {
    return this.hash.digest('hex');
  }
}
