// Digests of a build context's big files, remembered between runs of `cunik build` by each file's
// identity (device, inode, size, mtime, ctime: what git's index keeps), so an unchanged 200 MiB
// image tarball is not read again to learn that it is unchanged. The cache is a small JSON file
// under the user's cache directory; without one (unwritable home), files are hashed every time.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { atomicWriteFileSync } from '../util/atomic-write.js';

interface Remembered { id: string; digest: string }

const MAX = 500;

const identity = (st: Stats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;

export class DigestCache {
  private readonly known: Map<string, Remembered>;
  private changed = false;

  constructor(private readonly file = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cunik', 'context-digests.json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      parsed = {};
    }
    const entries = Object.entries(typeof parsed === 'object' && parsed !== null ? parsed : {})
      .filter((e): e is [string, Remembered] => typeof (e[1] as Remembered)?.id === 'string' && /^sha256:[0-9a-f]{64}$/.test(String((e[1] as Remembered).digest)));
    this.known = new Map(entries);
  }

  /** The sha256 of `path` (whose lstat is `st`), from memory when the file is unchanged. */
  async digest(path: string, st: Stats): Promise<string> {
    const id = identity(st);
    const hit = this.known.get(path);
    if (hit?.id === id) return hit.digest;
    const h = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
    const digest = `sha256:${h.digest('hex')}`;
    this.known.delete(path);
    this.known.set(path, { id, digest });
    while (this.known.size > MAX) this.known.delete(this.known.keys().next().value!);
    this.changed = true;
    return digest;
  }

  /** Write what was learnt (best effort: a cache that cannot be written is only slower). */
  save(): void {
    if (!this.changed) return;
    try {
      atomicWriteFileSync(this.file, JSON.stringify(Object.fromEntries(this.known)), 0o600);
    } catch { /* no cache directory: hashed again next time */ }
  }
}
