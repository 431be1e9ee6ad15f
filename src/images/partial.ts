// Bytes of blobs whose download was cut (the connection lost past the retries, the pull cancelled
// because its client went away, the daemon killed), kept under <root>/images/partial/ so that the
// next pull of the same digest asks only for the rest (Range) instead of starting over.
//
// Bounded: one kept file per digest (`<hex>`), only ever resumed for that digest and never longer
// than its descriptor's size; a download being written is `<hex>-<random>.part`, held by one
// download only (take() moves the kept file to it with one rename, so two pulls never share one).
// The kept bytes are not trusted: the download hashes them again before it resumes, and a
// resumed blob whose digest does not match is fetched once more whole (blob-download.ts). Kept
// files older than PARTIAL_TTL_MS (since their last write) are removed when a download starts and
// when the store opens, and all of them by prune. Nothing here is ever visible as an image: a
// finished download is renamed into its pull's staging area, and only a commit makes it visible.
import { readdirSync, renameSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { digestHex } from './blobs.js';
import { removeQuiet } from './fsutil.js';

/** How long the bytes of a cut download are kept for a later pull (since they were last written). */
export const PARTIAL_TTL_MS = 24 * 3600 * 1000;

const KEPT = /^[a-f0-9]{64}$/;
const WRITING = /^([a-f0-9]{64})-[a-f0-9]{16}\.part$/;

export interface HeldDownload {
  /** The file to download into (inside the partial folder, held by this download alone). */
  path: string;
  /** Bytes already in it, kept from an earlier cut download of the same digest (0 for none). */
  bytes: number;
}

export class PartialBlobs {
  private readonly active = new Set<string>();

  constructor(readonly dir: string, private readonly ttlMs = PARTIAL_TTL_MS, private readonly now: () => number = Date.now) {}

  private expired(mtimeMs: number): boolean {
    return this.now() - mtimeMs >= this.ttlMs;
  }

  /**
   * When the store opens (no download runs): what a killed process was writing becomes the kept
   * file of its digest (the longer one wins), expired and unknown entries are removed.
   */
  sweep(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const path = join(this.dir, name);
      const w = WRITING.exec(name);
      if (!KEPT.test(name) && !w) {
        removeQuiet(path);
        continue;
      }
      let size: number;
      try {
        const st = statSync(path);
        if (!st.isFile() || this.expired(st.mtimeMs)) {
          removeQuiet(path);
          continue;
        }
        size = st.size;
      } catch {
        continue;
      }
      if (!w) continue;
      const kept = join(this.dir, w[1]!);
      let keptSize = -1;
      try {
        keptSize = statSync(kept).size;
      } catch { /* none kept */ }
      if (keptSize >= size) removeQuiet(path);
      else renameSync(path, kept);
    }
  }

  /** Remove kept files past their time (not those being written). */
  private async expire(): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(this.dir, name);
      if (this.active.has(path) || !KEPT.test(name)) continue;
      try {
        if (this.expired((await stat(path)).mtimeMs)) await rm(path, { force: true });
      } catch { /* gone meanwhile */ }
    }
  }

  /**
   * A file to download `digest` (of `size` bytes) into: the kept bytes of an earlier cut download
   * when there are some (taken: no other download resumes them), an empty file otherwise.
   */
  async take(digest: string, size: number): Promise<HeldDownload> {
    const hex = digestHex(digest);
    await mkdir(this.dir, { recursive: true });
    await this.expire();
    const path = join(this.dir, `${hex}-${randomBytes(8).toString('hex')}.part`);
    this.active.add(path);
    try {
      await rename(join(this.dir, hex), path);
      const bytes = (await stat(path)).size;
      if (bytes <= size) return { path, bytes };
      await rm(path, { force: true }); // longer than the blob: not this blob's bytes
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.active.delete(path);
        throw err;
      }
    }
    try {
      await (await open(path, 'wx', 0o644)).close();
    } catch (err) {
      this.active.delete(path);
      throw err;
    }
    return { path, bytes: 0 };
  }

  /** Keep a cut download's bytes for the next pull of `digest` (the longer of two wins). */
  async keep(path: string, digest: string): Promise<void> {
    const kept = join(this.dir, digestHex(digest));
    try {
      const [mine, theirs] = await Promise.all([stat(path), stat(kept).catch(() => undefined)]);
      if (mine.size === 0 || (theirs !== undefined && theirs.size >= mine.size)) await rm(path, { force: true });
      else await rename(path, kept);
    } finally {
      this.active.delete(path);
    }
  }

  /** A download is over: its file was moved into a staging area, or is to be removed. */
  async release(path: string, remove: boolean): Promise<void> {
    this.active.delete(path);
    if (remove) await rm(path, { force: true });
  }

  /** Remove every kept file (prune); returns the bytes freed. Downloads in progress are left alone. */
  prune(): number {
    let freed = 0;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      const path = join(this.dir, name);
      if (this.active.has(path)) continue;
      try {
        freed += statSync(path).size;
      } catch { /* gone */ }
      removeQuiet(path);
    }
    return freed;
  }
}
