// Content-addressed blobs (blobs/sha256/<hex>, as in an OCI image layout) and the staging
// area new content is written to first. Nothing becomes visible in the store until a staging
// area is committed; the commit is synchronous, so it never interleaves with another change.

import {
  existsSync, readFileSync, statSync, readdirSync, mkdirSync, renameSync, unlinkSync, chmodSync,
} from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { invalid } from '../errors.js';
import { BatchedWriter } from '../util/batched-writer.js';
import { fsyncDir, removeQuiet, type ByteSource } from './fsutil.js';

const HEX = /^[a-f0-9]{64}$/;

export function digestHex(digest: string): string {
  const hex = digest.startsWith('sha256:') ? digest.slice(7) : '';
  if (!HEX.test(hex)) throw invalid(`unsupported digest ${JSON.stringify(digest)} (only sha256 is supported)`);
  return hex;
}

export class BlobStore {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'sha256');
  }

  init(): void {
    mkdirSync(this.dir, { recursive: true });
  }

  path(digest: string): string {
    return join(this.dir, digestHex(digest));
  }

  has(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  size(digest: string): number {
    return statSync(this.path(digest)).size;
  }

  readSync(digest: string): Buffer {
    return readFileSync(this.path(digest));
  }

  /** Every digest present, plus names of leftover temp files (for the startup sweep). */
  scan(): { digests: string[]; junk: string[] } {
    const digests: string[] = [];
    const junk: string[] = [];
    for (const name of readdirSync(this.dir)) {
      if (HEX.test(name)) digests.push(`sha256:${name}`);
      else junk.push(join(this.dir, name));
    }
    return { digests, junk };
  }

  deleteSync(digest: string): void {
    try {
      unlinkSync(this.path(digest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

export interface StagedBlob {
  digest: string;
  size: number;
}

/** A private scratch directory for one operation (import or load). */
export class Staging {
  readonly dir: string;
  private readonly blobs = new Map<string, string>();
  private readonly unpacked = new Map<string, string>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(tmpRoot: string, kind: string): Promise<Staging> {
    const dir = join(tmpRoot, `${kind}-${randomBytes(8).toString('hex')}`);
    await mkdir(join(dir, 'blobs'), { recursive: true });
    await mkdir(join(dir, 'unpacked'), { recursive: true });
    return new Staging(dir);
  }

  hasBlob(digest: string): boolean {
    return this.blobs.has(digest);
  }

  blobPath(digest: string): string | undefined {
    return this.blobs.get(digest);
  }

  /** A fresh path inside the staging area for an intermediate file. */
  scratch(name: string): string {
    return join(this.dir, `${name}-${randomBytes(4).toString('hex')}`);
  }

  /**
   * Write a stream into the staging area, hashing it. With `expected`, a different digest
   * is refused (the file is removed) with a message naming both.
   */
  async addStream(source: ByteSource, expected?: string, what = 'blob'): Promise<StagedBlob> {
    const tmp = this.scratch('blob');
    const hash = createHash('sha256');
    let size = 0;
    const fh = await open(tmp, 'wx', 0o644);
    try {
      const w = new BatchedWriter(fh);
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        await w.add(chunk);
      }
      await w.end();
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    const digest = `sha256:${hash.digest('hex')}`;
    if (expected !== undefined && digest !== expected) {
      await rm(tmp, { force: true });
      throw invalid(`${what} ${expected}: digest mismatch (content is ${digest})`);
    }
    return this.adopt(tmp, digest, size);
  }

  async addBuffer(buf: Buffer): Promise<StagedBlob> {
    return this.addStream([buf]);
  }

  /** Register a file already written (and synced) inside the staging area under its digest. */
  adopt(path: string, digest: string, size: number): StagedBlob {
    const final = join(this.dir, 'blobs', digestHex(digest));
    renameSync(path, final);
    this.blobs.set(digest, final);
    return { digest, size };
  }

  /** A directory to unpack an image's boot files into, keyed by manifest digest. */
  async unpackDir(manifestDigest: string): Promise<string> {
    const hex = digestHex(manifestDigest);
    const dir = join(this.dir, 'unpacked', hex);
    await mkdir(dir, { recursive: true });
    this.unpacked.set(hex, dir);
    return dir;
  }

  /**
   * Move the given blobs and unpacked dirs into the store (synchronously). Content already
   * present is left as is (same digest, same bytes). The caller then commits its index.
   */
  commit(store: BlobStore, unpackedRoot: string, digests: Iterable<string>, manifestDigests: Iterable<string>): void {
    for (const d of digests) {
      const src = this.blobs.get(d);
      if (src === undefined) throw new Error(`staging: blob ${d} was never staged`);
      if (!store.has(d)) renameSync(src, store.path(d));
    }
    fsyncDir(store.dir);
    for (const m of manifestDigests) {
      const hex = digestHex(m);
      const src = this.unpacked.get(hex);
      if (src === undefined) continue;
      const dest = join(unpackedRoot, hex);
      if (!existsSync(dest)) {
        for (const f of readdirSync(src)) chmodSync(join(src, f), 0o400); // read-only, the daemon's (QEMU opens them before -runas)
        renameSync(src, dest);
      }
    }
    fsyncDir(unpackedRoot);
  }

  dispose(): void {
    removeQuiet(this.dir);
  }
}
