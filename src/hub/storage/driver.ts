// The storage driver: the few operations the registry needs from where its bytes live, over
// slash-separated keys ("blobs/sha256/<hex>", "repositories/<name>/_layers/sha256/<hex>", ...).
// The filesystem driver (fs.ts) is the one there is; an object store (S3) would implement the
// same calls. Every write becomes visible whole or not at all.
import type { Readable, Writable } from 'node:stream';

export interface ObjectInfo {
  size: number;
  /** Last write or touch, ms since the epoch: GC's grace period is measured from it. */
  modifiedMs: number;
}

/** A prefix's listing version (see StorageDriver.stamps). */
export interface PrefixStamp {
  stamp: string;
  /** When the listing last changed, ms since the epoch. */
  modifiedMs: number;
}

export interface StorageDriver {
  /** The content of a small object (a link, a tag, a manifest), undefined when absent. */
  read(key: string): Promise<Buffer | undefined>;
  /** Replace a small object atomically (temp, fsync, rename). */
  write(key: string, data: Buffer | string): Promise<void>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** The bytes [start, end] (inclusive) of an object, or all of it. */
  reader(key: string, range?: { start: number; end: number }): Readable;
  /**
   * The bytes [start, end] (inclusive) of an object, or all of it, opened now (undefined when the
   * object is absent) and written into `out` when the copy is called, without the per-chunk
   * buffers of a Readable. Optional: a driver without it is read through reader().
   */
  openCopy?(key: string, range?: { start: number; end: number }): Promise<((out: Writable) => Promise<void>) | undefined>;
  /** The names directly under a prefix (objects and sub-prefixes), [] when none. */
  list(prefix: string): Promise<string[]>;
  /** Is this prefix a folder of objects? */
  isPrefix(prefix: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  deleteTree(prefix: string): Promise<void>;
  /**
   * Append a stream to an object (an upload's data), starting at `offset` (its current size):
   * on a failure it is cut back to `offset`, so a half-received chunk is never kept.
   */
  append(key: string, offset: number, source: AsyncIterable<Buffer>, onChunk: (b: Buffer) => void): Promise<number>;
  /** Move an upload's finished data to its final key (durably). An existing target is kept (same digest, same bytes). */
  commit(from: string, to: string): Promise<void>;
  /**
   * Mark an object as in use now (GC never removes what was touched within its grace period).
   * False when the object is not there. An object GC is removing at that moment is put back.
   */
  touch(key: string): Promise<boolean>;
  /** GC's removal: gone only if not touched since `cutoffMs`; true when removed. */
  removeIfOlder(key: string, cutoffMs: number): Promise<boolean>;
  /**
   * For each prefix, a stamp that changes whenever a name directly under it is added, removed or
   * replaced (undefined when the prefix is absent): caches shared by no process (the web UI's
   * repository summaries) check them. A driver without it gets no such caching.
   */
  stamps?(prefixes: string[]): Promise<(PrefixStamp | undefined)[]>;
  /** An exclusive lock named `name` across every process over this store; undefined when held elsewhere. */
  lock(name: string): Promise<(() => Promise<void>) | undefined>;
}
