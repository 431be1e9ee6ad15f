// The build cache, <root>/build-cache/: results of build steps keyed by the digest of their
// inputs (file contents, settings, the builder's version). An entry is a directory
//   entries/<key hex>/meta.json and the files the step produced,
// made in tmp/ and renamed into place, so a crash never leaves half an entry. Entries are
// immutable: images link their files (the image store keeps its own names for them).

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { mkdtemp, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeQuiet } from '../images/fsutil.js';
import { diskUsage } from '../util/disk-usage.js';

/** Bump when a step's output would change for the same inputs. */
export const BUILDER_VERSION = 3;

export function digestOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** Digests of files already hashed, by path and identity (device, inode, size, mtime, ctime). */
const digestMemo = new Map<string, { id: string; digest: string }>();

/** sha256 of a file's content, "sha256:<hex>" (remembered while the file stays the same). */
/** Remember `path`'s digest, known without reading it (a build context's file kept by content). */
export function rememberDigest(path: string, digest: string): void {
  const st = statSync(path);
  if (digestMemo.size > 10_000) digestMemo.clear();
  digestMemo.set(path, { id: `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`, digest });
}

export async function fileDigest(path: string): Promise<string> {
  const st = await stat(path);
  const id = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  const memo = digestMemo.get(path);
  if (memo?.id === id) return memo.digest;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  const digest = `sha256:${h.digest('hex')}`;
  if (digestMemo.size > 10_000) digestMemo.clear();
  digestMemo.set(path, { id, digest });
  return digest;
}

/** One entry as `system df -v` and `builder prune` see it. */
export interface CacheRecord {
  id: string;
  /** A build step's outputs, or a big context file kept by its content (context-store.ts). */
  type: 'step' | 'context';
  /** Bytes of its files. */
  size: number;
  /** Bytes only the cache holds: its files no image links (what removing it frees). */
  reclaimable: number;
  /** An image links some of its files (an image built from it still exists). */
  inUse: boolean;
  createdAt: string;
  /** The last build that made or reused it. */
  lastUsedAt: string;
}

export interface CacheEntry<M> {
  dir: string;
  meta: M;
  hit: boolean;
}

export class BuildCache {
  readonly dir: string;
  private readonly entries: string;
  private readonly tmp: string;

  constructor(root: string) {
    this.dir = join(root, 'build-cache');
    this.entries = join(this.dir, 'entries');
    this.tmp = join(this.dir, 'tmp');
    mkdirSync(this.entries, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
    for (const name of readdirSync(this.tmp)) removeQuiet(join(this.tmp, name));
  }

  /** A private scratch directory (removed by the caller, or swept at the next start). */
  scratch(prefix: string): Promise<string> {
    return mkdtemp(join(this.tmp, `${prefix}-`));
  }

  lookup<M>(key: string): CacheEntry<M> | undefined {
    const dir = join(this.entries, key);
    try {
      const found = { dir, meta: JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as M, hit: true };
      // meta.json's mtime is the entry's last use (prune's until=, and what a running build holds).
      const now = new Date();
      utimesSync(join(dir, 'meta.json'), now, now);
      return found;
    } catch {
      return undefined;
    }
  }

  /** Every entry, with its sizes (an entry being removed meanwhile is left out). */
  async list(): Promise<CacheRecord[]> {
    const names = await readdir(this.entries).catch(() => [] as string[]);
    const found = await Promise.all(
      names.map(async (id): Promise<CacheRecord | undefined> => {
        const dir = join(this.entries, id);
        const [st, meta, size, own] = await Promise.all([stat(dir).catch(() => undefined), stat(join(dir, 'meta.json')).catch(() => undefined), diskUsage(dir), diskUsage(dir, { skipShared: true })]);
        if (!st || !meta) return undefined;
        return { id, type: 'step', size, reclaimable: own, inUse: own < size, createdAt: new Date(Math.min(st.mtimeMs, meta.birthtimeMs || meta.mtimeMs)).toISOString(), lastUsedAt: meta.mtime.toISOString() };
      }),
    );
    return found.filter((r): r is CacheRecord => r !== undefined).sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
  }

  /**
   * Remove entries (`builder prune`): without `all` only those no image links (their space is
   * freed); with `all` every one (images keep their own links, so they still work, and the next
   * build makes the steps again). `keep` spares entries (used by a running build). An entry is
   * renamed out of entries/ first, so a build never finds half of one.
   */
  async prune(opts: { all: boolean; keep: (r: CacheRecord) => boolean }): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const r of await this.list()) {
      if ((!opts.all && r.inUse) || opts.keep(r)) continue;
      const gone = join(this.tmp, `pruned-${r.id}-${process.hrtime.bigint()}`);
      try {
        await rename(join(this.entries, r.id), gone);
      } catch {
        continue; // removed meanwhile
      }
      removeQuiet(gone);
      deleted.push(r.id);
      spaceReclaimed += r.reclaimable;
    }
    // Entries a --no-cache rebuild replaced (moved aside, no build uses them).
    for (const name of await readdir(this.tmp).catch(() => [] as string[])) {
      if (!name.startsWith('old-') || opts.keep({ id: name, type: 'step', size: 0, reclaimable: 0, inUse: false, createdAt: '', lastUsedAt: new Date().toISOString() })) continue;
      spaceReclaimed += await diskUsage(join(this.tmp, name), { skipShared: true });
      removeQuiet(join(this.tmp, name));
    }
    return { deleted, spaceReclaimed };
  }

  /**
   * The entry for `key`: reused when present (unless `noCache`), else made by `produce` in a
   * scratch directory that becomes the entry. With noCache the fresh result replaces the old.
   */
  async get<M>(key: string, noCache: boolean, produce: (dir: string) => Promise<M>): Promise<CacheEntry<M>> {
    if (!noCache) {
      const found = this.lookup<M>(key);
      if (found) return found;
    }
    const work = await this.scratch('step');
    try {
      const meta = await produce(work);
      await writeFile(join(work, 'meta.json'), JSON.stringify(meta));
      const dir = join(this.entries, key);
      if (existsSync(dir)) {
        // --no-cache: move the old entry aside (images may still link its files; links survive).
        await rename(dir, join(this.tmp, `old-${key}-${process.hrtime.bigint()}`)).catch(() => undefined);
      }
      try {
        await rename(work, dir);
      } catch (err) {
        const found = this.lookup<M>(key); // another build made the same entry meanwhile
        if (found) return found;
        throw err;
      }
      return { dir, meta, hit: false };
    } finally {
      removeQuiet(work);
    }
  }
}
