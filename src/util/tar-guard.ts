// Tar entries are untrusted: the one place that decides what an entry's name means and whether it
// may be written (Docker's pkg/archive "breakout" checks, containerd's "path escapes from parent").
//
// Every reader of tars names each entry through a TarGuard: an absolute name (unless the archive
// kind's names are root-relative, as image layers' are: KraftKit writes /unikraft/bin/kernel), a
// ".." component, an entry under a symlink the archive made, a hard link to anything but a file the
// archive already holds, and device or fifo entries are refused with one sentence naming the entry.
// extractTar writes what passes into a fresh directory and never follows a symlink on the way
// (O_NOFOLLOW on the last component, every parent checked with lstat), so nothing it writes can
// land outside that directory. A caller whose extraction fails removes the directory whole.

import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { chmod, link, lstat, mkdir, open, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Extract, Header } from 'tar-stream';
import { invalid } from '../errors.js';

const REFUSED_TYPES: Record<string, string> = {
  'character-device': 'a character device',
  'block-device': 'a block device',
  fifo: 'a fifo',
};

export interface TarGuardOptions {
  /** What the archive is, for errors: "build context", "image archive"... */
  what: string;
  /** Image layers' names are relative to the layer's root even with a leading "/" (the OCI way). */
  rootRelative?: boolean;
  /** The request field errors name. */
  field?: string;
  /**
   * Device and fifo entries are refused, unless the reader makes nothing of them anyway (a
   * container layer's /dev: the guest's is devtmpfs), which may let them pass as skipped.
   */
  devices?: 'refuse' | 'skip';
}

export class TarGuard {
  /** Names of the symlinks the archive holds so far: nothing may be written under them. */
  private readonly links = new Set<string>();

  constructor(private readonly opts: TarGuardOptions) {}

  fail(raw: string, why: string): never {
    throw invalid(`${this.opts.what}: entry ${JSON.stringify(raw)} ${why}`, this.opts.field);
  }

  /** A name from the archive as a clean relative path ("" for the archive's own root). */
  path(raw: string, role = 'entry'): string {
    const rel = role === 'entry' ? raw : `${role} ${JSON.stringify(raw)}`;
    let n = raw.replace(/\/+$/, '');
    if (n.startsWith('/')) {
      if (!this.opts.rootRelative) this.fail(raw, role === 'entry' ? 'has an absolute path' : `points to an absolute path (${rel})`);
      n = n.replace(/^\/+/, '');
    }
    const parts = n.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) this.fail(raw, role === 'entry' ? 'points outside the archive (..)' : `points outside the archive (${rel})`);
    for (let i = 1; i < parts.length; i++) {
      if (this.links.has(parts.slice(0, i).join('/'))) this.fail(raw, `is under the symlink ${JSON.stringify(parts.slice(0, i).join('/'))}`);
    }
    return parts.join('/');
  }

  /**
   * Check one entry's header; returns its clean name and, for a hard link, its target's. Devices
   * and fifos are refused, or marked skip (nothing from a tar makes a device on the host).
   */
  check(h: Header): { name: string; linkTarget?: string; skip?: true } {
    const kind = REFUSED_TYPES[h.type ?? 'file'];
    const name = this.path(h.name);
    if (kind !== undefined) {
      if (this.opts.devices === 'skip') return { name, skip: true };
      this.fail(h.name, `is ${kind}: archives may hold files, directories and links only`);
    }
    if (h.type === 'symlink') this.links.add(name);
    else this.links.delete(name); // a later entry replaces the symlink (tar order)
    if (h.type === 'link') {
      const target = this.path(h.linkname ?? '', 'hard link to');
      if (target === '') this.fail(h.name, 'is a hard link to the archive\'s root');
      if (this.links.has(target)) this.fail(h.name, `is a hard link to the symlink ${JSON.stringify(target)}`);
      return { name, linkTarget: target };
    }
    return { name };
  }
}

/** Make `dir/rel`'s parents as directories, refusing any that exists as something else. */
async function parents(dir: string, rel: string, guard: TarGuard, raw: string): Promise<void> {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const at = join(dir, ...parts.slice(0, i));
    const st = await lstat(at).catch(() => undefined);
    if (st === undefined) {
      await mkdir(at);
      await chmod(at, 0o755); // as tar makes a parent it has no entry for (the daemon's umask is 077)
    } else if (!st.isDirectory()) guard.fail(raw, `is under ${JSON.stringify(parts.slice(0, i).join('/'))}, which is not a directory`);
  }
}

/**
 * Where an archive's big files are kept by content (a build context's: src/build/context-store.ts).
 * A file entry of size 0 with a PAX record CUNIK.digest is a reference to a kept file (linked into
 * place, never written); a file at least `threshold` big is hashed as it is written and kept.
 */
export interface ContentFiles {
  readonly threshold: number;
  /** The kept file with this digest, if there is one. */
  path(digest: string): string | undefined;
  /** Keep `file`, just written, whose content has this digest. */
  adopt(file: string, digest: string): void;
}

/** The PAX record of a reference to a kept file. */
export const DIGEST_RECORD = 'CUNIK.digest';

const NOFOLLOW_CREATE = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

/**
 * Write an archive's entries (from tar-stream's extract) under `dir`, which must be new and private
 * to this extraction. Files, directories, symlinks (kept as they are: readers resolve them inside
 * `dir`, see insideDir) and hard links to files already extracted; modes as the archive says
 * (chmod: the daemon's umask would narrow them, and these modes are content). Returns the number of
 * files written.
 */
export async function extractTar(
  extract: Extract,
  dir: string,
  guard: TarGuard,
  content?: ContentFiles,
  /** Told each file whose digest is known (referenced, or hashed as it was written). */
  known?: (file: string, digest: string) => void,
): Promise<number> {
  // Listen to the extract before anything is awaited: an iteration that started after the stream
  // had already announced its first entry waited forever (streamx), now and then.
  const entries = extract[Symbol.asyncIterator]();
  await mkdir(dir, { recursive: true });
  let files = 0;
  for await (const entry of { [Symbol.asyncIterator]: () => entries }) {
    try {
      const h = entry.header;
      const { name, linkTarget, skip } = guard.check(h);
      const type = h.type ?? 'file';
      const isFile = type === 'file' || type === 'contiguous-file';
      if (name === '' || skip) {
        entry.resume();
        continue;
      }
      const dest = join(dir, name);
      const mode = (h.mode ?? (type === 'directory' ? 0o755 : 0o644)) & 0o7777;
      await parents(dir, name, guard, h.name);
      const existing = await lstat(dest).catch(() => undefined);
      if (type === 'directory') {
        if (existing !== undefined && !existing.isDirectory()) await rm(dest, { force: true });
        if (!existing?.isDirectory()) await mkdir(dest);
        await chmod(dest, mode | 0o700); // the daemon must be able to read what it unpacked
        entry.resume();
        continue;
      }
      if (existing !== undefined) await rm(dest, { recursive: true, force: true }); // a later entry wins
      const ref = (h.pax as Record<string, string> | null | undefined)?.[DIGEST_RECORD];
      if (isFile && ref !== undefined) {
        const kept = content !== undefined && (h.size ?? 0) === 0 ? content.path(ref) : undefined;
        if (kept === undefined) guard.fail(h.name, `refers to content ${JSON.stringify(ref)}, which the daemon does not hold (it was pruned meanwhile): build again`);
        await link(kept, dest);
        known?.(dest, ref);
        entry.resume();
        files++;
      } else if (isFile) {
        const hash = content !== undefined && (h.size ?? 0) >= content.threshold ? createHash('sha256') : undefined;
        const fh = await open(dest, NOFOLLOW_CREATE, 0o600);
        try {
          for await (const chunk of entry as AsyncIterable<Uint8Array>) {
            hash?.update(chunk);
            await fh.write(chunk);
          }
          await fh.chmod(mode);
        } finally {
          await fh.close();
        }
        if (hash !== undefined) {
          const digest = `sha256:${hash.digest('hex')}`;
          content!.adopt(dest, digest);
          known?.(dest, digest);
        }
        files++;
      } else if (type === 'symlink') {
        await symlink(h.linkname ?? '', dest);
        entry.resume();
      } else if (type === 'link') {
        const target = join(dir, linkTarget!);
        const st = await lstat(target).catch(() => undefined);
        if (!st?.isFile()) guard.fail(h.name, `is a hard link to ${JSON.stringify(h.linkname)}, which is not a file earlier in the archive`);
        await link(target, dest);
        entry.resume();
      } else {
        entry.resume(); // pax/GNU extension headers tar-stream has not folded in: nothing to write
      }
    } catch (err) {
      entry.destroy(); // an unread entry holds the extract: without this, the loop's cleanup waits forever
      throw err;
    }
  }
  return files;
}
