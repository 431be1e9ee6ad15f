// Small file-system helpers for the image store: quiet removal, hashing streams, byte sources.

import { rmSync, unlinkSync } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

// Atomic writes are src/util/atomic-write.ts's (one implementation for every store).
export { atomicWriteFileSync, fsyncDir, tmpName, TMP_PREFIX } from '../util/atomic-write.js';

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
