// Build context files kept by content: a big file of a context (a container image tarball is
// hundreds of MiB) is kept here by its sha256 once the daemon has received it, so the next build
// of the same context sends only a reference to it (cunik build asks which digests the daemon
// lacks first: POST /build/context/missing). The files are hard links of what a context unpacked,
// verified as they were written (src/util/tar-guard.ts: extractTar hashes them), read-only, and
// removed by `builder prune`; `system df` counts them in the build cache (type "context").
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeQuiet } from '../images/fsutil.js';
import type { ContentFiles } from '../util/tar-guard.js';
import type { CacheRecord } from './cache.js';

/** Files this big or bigger are kept by content (smaller ones cost less to send than to look up). */
export const CONTEXT_BY_DIGEST_MIN = 1 << 20;

const DIGEST = /^sha256:([0-9a-f]{64})$/;

export class ContextStore implements ContentFiles {
  readonly threshold = CONTEXT_BY_DIGEST_MIN;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private file(digest: string): string | undefined {
    const m = DIGEST.exec(digest);
    return m ? join(this.dir, m[1]!) : undefined;
  }

  path(digest: string): string | undefined {
    const f = this.file(digest);
    return f !== undefined && existsSync(f) ? f : undefined;
  }

  /** Which of these digests the store lacks (malformed ones included). */
  missing(digests: string[]): string[] {
    return digests.filter((d) => this.path(d) === undefined);
  }

  adopt(file: string, digest: string): void {
    const f = this.file(digest);
    if (f === undefined || existsSync(f)) return;
    chmodSync(file, statSync(file).mode & 0o555); // shared by later contexts: nobody writes it
    try {
      linkSync(file, f);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }

  /**
   * Every kept file as a build cache record: its id the sha256 (hex), reclaimable unless a context
   * unpacked now links it too, created when it was written (mtime), last used when a context last
   * linked it (ctime: a link changes the inode's link count).
   */
  list(): CacheRecord[] {
    const out: CacheRecord[] = [];
    for (const name of readdirSync(this.dir)) {
      const st = /^[0-9a-f]{64}$/.test(name) ? statSync(join(this.dir, name), { throwIfNoEntry: false }) : undefined;
      if (st === undefined) continue;
      out.push({
        id: name, type: 'context', size: st.size, reclaimable: st.nlink === 1 ? st.size : 0, inUse: false,
        createdAt: st.mtime.toISOString(), lastUsedAt: new Date(Math.max(st.ctimeMs, st.mtimeMs)).toISOString(),
      });
    }
    return out;
  }

  /** Remove every kept file: their ids, and the bytes freed (files still linked by a context are freed when it goes). */
  prune(): { deleted: string[]; freed: number } {
    const deleted: string[] = [];
    let freed = 0;
    for (const name of readdirSync(this.dir)) {
      const f = join(this.dir, name);
      const st = statSync(f, { throwIfNoEntry: false });
      if (st?.nlink === 1) freed += st.size;
      removeQuiet(f);
      deleted.push(name);
    }
    return { deleted, freed };
  }
}
