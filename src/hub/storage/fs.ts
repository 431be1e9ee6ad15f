// The filesystem storage driver. Keys are paths under the root (checked by the registry before
// they get here: names, tags and digests only). Small objects are written by the project's
// atomic write; upload data is appended in place and renamed into blobs/ when it is verified.
// Small reads (tags, links, manifests), stats and touches are synchronous: a few microseconds
// each from the page cache, where the asynchronous calls each took several trips through the
// thread pool, queued behind the uploads' writes and fsyncs (a manifest GET is three reads).
import { createReadStream, readFileSync, statSync, utimesSync, renameSync, type Stats } from 'node:fs';
import { type FileHandle, link, mkdir, open, readdir, rename, rm, stat, truncate, unlink, writeFile, readFile as rf } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { atomicWriteFile } from '../../util/atomic-write.js';
import { BatchedWriter } from '../../util/batched-writer.js';
import { passedThrough } from '../memory.js';
import type { ObjectInfo, PrefixStamp, StorageDriver } from './driver.js';

/** Reads of blobs served: 256 KiB at a time (1 MiB ones held ~20 MiB more in the hub while three pulls of one client ran at once, bench registry). */
const READ_BYTES = 256 * 1024;
const missing = (err: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');
/** While GC decides, an object it removes sits beside itself under this name (see touch). */
const doomed = (path: string): string => join(dirname(path), `.gc-${basename(path)}`);

export class FsDriver implements StorageDriver {
  constructor(readonly root: string) {}

  private path(key: string): string {
    return join(this.root, key);
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      return readFileSync(this.path(key));
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
  }

  async write(key: string, data: Buffer | string): Promise<void> {
    const p = this.path(key);
    try {
      await atomicWriteFile(p, data);
    } catch (err) {
      if (!missing(err)) throw err;
      await mkdir(dirname(p), { recursive: true });
      await atomicWriteFile(p, data);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    let st: Stats | undefined;
    try {
      st = statSync(this.path(key));
    } catch (err) {
      if (!missing(err)) throw err;
    }
    return st && st.isFile() ? { size: st.size, modifiedMs: st.mtimeMs } : undefined;
  }

  reader(key: string, range?: { start: number; end: number }): Readable {
    // Large reads: fewer system calls and writes to the socket per blob.
    const r = createReadStream(this.path(key), { highWaterMark: READ_BYTES, ...(range && { start: range.start, end: range.end }) });
    // A second 'data' listener beside the consumer's pipe changes nothing in its flow.
    r.on('data', (c) => passedThrough(c.length));
    return r;
  }

  async openCopy(key: string, range?: { start: number; end: number }): Promise<((out: Writable) => Promise<void>) | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(this.path(key), 'r');
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
    return async (out) => {
      try {
        await copyOut(fh, range?.start ?? 0, range ? range.end + 1 : Infinity, out);
      } finally {
        await fh.close();
      }
    };
  }

  async list(prefix: string): Promise<string[]> {
    const names = await readdir(this.path(prefix)).catch((err) => (missing(err) ? [] : Promise.reject(err)));
    return names.filter((n) => !n.startsWith('.'));
  }

  async isPrefix(prefix: string): Promise<boolean> {
    try {
      return statSync(this.path(prefix)).isDirectory();
    } catch {
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    await unlink(this.path(key)).catch((err) => (missing(err) ? undefined : Promise.reject(err)));
  }

  async deleteTree(prefix: string): Promise<void> {
    // Renamed aside first, so the tree disappears at once and a crash leaves only junk GC removes.
    const p = this.path(prefix);
    const aside = join(dirname(p), `.deleted-${basename(p)}-${process.pid}-${Date.now()}`);
    try {
      await rename(p, aside);
    } catch (err) {
      if (missing(err)) return;
      throw err;
    }
    await rm(aside, { recursive: true, force: true });
  }

  async append(key: string, offset: number, source: AsyncIterable<Buffer>, onChunk: (b: Buffer) => void): Promise<number> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    const fh = await open(p, 'a');
    let size = offset;
    try {
      const w = new BatchedWriter(fh);
      for await (const chunk of source) {
        onChunk(chunk); // hashed on this thread while the previous batch is written on another
        size += chunk.length;
        passedThrough(chunk.length);
        await w.add(chunk);
      }
      await w.end();
    } catch (err) {
      await fh.close();
      await truncate(p, offset).catch(() => undefined);
      throw err;
    }
    await fh.close();
    return size;
  }

  async commit(from: string, to: string): Promise<void> {
    const src = this.path(from);
    const dest = this.path(to);
    const fh = await open(src, 'r');
    await fh.sync();
    await fh.close();
    if (await this.touch(to)) return void (await rm(src, { force: true }));
    await mkdir(dirname(dest), { recursive: true });
    await rename(src, dest);
  }

  async touch(key: string): Promise<boolean> {
    const p = this.path(key);
    const now = new Date();
    // GC may be deciding about it this very moment (removeIfOlder): it is then beside itself, and
    // is taken back (rename is atomic, one side wins); or GC put it back between our two tries.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        utimesSync(p, now, now);
        return true;
      } catch (err) {
        if (!missing(err)) throw err;
      }
      try {
        renameSync(doomed(p), p);
      } catch (err) {
        if (!missing(err)) throw err;
      }
    }
    return false;
  }

  async removeIfOlder(key: string, cutoffMs: number): Promise<boolean> {
    const p = this.path(key);
    const aside = doomed(p);
    try {
      await rename(p, aside);
    } catch (err) {
      if (missing(err)) return false;
      throw err;
    }
    // A touch that came before the rename shows in the mtime; one after it found the file gone
    // and took it back from `aside` (then our unlink below finds nothing).
    const st = await stat(aside).catch(() => undefined);
    if (st === undefined) return false;
    if (st.mtimeMs >= cutoffMs) {
      await rename(aside, p).catch(() => undefined);
      return false;
    }
    try {
      await unlink(aside);
      return true;
    } catch (err) {
      if (missing(err)) return false;
      throw err;
    }
  }

  async stamps(prefixes: string[]): Promise<(PrefixStamp | undefined)[]> {
    // A folder's mtime (a double: sub-microsecond) changes with every entry added, removed or
    // renamed over; its inode with a folder removed and made again. Synchronous: a thousand stats
    // of cached inodes take a few milliseconds this way, far less than through the thread pool.
    return prefixes.map((prefix) => {
      let st: Stats | undefined;
      try {
        st = statSync(this.path(prefix));
      } catch (err) {
        if (!missing(err)) throw err;
      }
      return st?.isDirectory() ? { stamp: `${st.ino}:${st.mtimeMs}`, modifiedMs: st.mtimeMs } : undefined;
    });
  }

  async lock(name: string): Promise<(() => Promise<void>) | undefined> {
    const p = this.path(name);
    await mkdir(dirname(p), { recursive: true });
    // The lock appears with its holder's pid already in it (written aside, then link(2), which fails
    // if the lock exists): a lock opened empty and written after was taken for a dead holder's by a
    // second gc reading it in between, and both ran.
    const mine = `${p}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`;
    await writeFile(mine, `${process.pid}\n`, { mode: 0o644 });
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await link(mine, p);
          return async () => void (await rm(p, { force: true }));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          const pid = Number((await rf(p, 'utf8').catch(() => '')).trim());
          if (pid > 0 && alive(pid)) return undefined;
          await rm(p, { force: true }); // its holder died (SIGKILL): take it over
        }
      }
      return undefined;
    } finally {
      await rm(mine, { force: true });
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Serving a blob: the bytes [pos, end) of a file into `out` (end Infinity: to the end) through two
 * READ_BYTES buffers held for the whole copy, the next read while the last one is written, each
 * reused only once its write has been handed to the kernel (the write's callback). A Readable
 * allocates a buffer per read, which the hub then had to collect (memory.ts): this costs about a
 * fifth less of the hub's CPU per byte served (bench registry, docs/hub.md).
 */
async function copyOut(fh: FileHandle, pos: number, end: number, out: Writable): Promise<void> {
  const bufs = [Buffer.allocUnsafeSlow(READ_BYTES), Buffer.allocUnsafeSlow(READ_BYTES)];
  let pending: Promise<void> | undefined;
  try {
    for (let i = 0; pos < end; i ^= 1) {
      const b = bufs[i]!;
      const { bytesRead } = await fh.read(b, 0, Math.min(b.length, end - pos), pos);
      if (bytesRead === 0) {
        if (end === Infinity) break;
        throw new Error(`the file ended ${end - pos} bytes short`);
      }
      pos += bytesRead;
      if (pending) await pending;
      pending = writeOut(out, bytesRead === b.length ? b : b.subarray(0, bytesRead));
      pending.catch(() => undefined); // it fails while the next read runs: awaited (and thrown) after it
    }
    if (pending) await pending;
  } catch (err) {
    await pending?.catch(() => undefined); // never reuse or drop a buffer the kernel is still given
    throw err;
  }
}

/** One write, settled once the bytes are handed on (or the stream is closed: the client went away). */
function writeOut(out: Writable, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const closed = (): void => reject(new Error('the connection was closed'));
    if (out.destroyed) return closed();
    out.once('close', closed);
    out.write(b, (err) => {
      out.off('close', closed);
      if (err) reject(err);
      else resolve();
    });
  });
}
