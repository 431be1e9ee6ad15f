// The build context: the directory the client sent as a tar, unpacked into a private directory
// (src/util/tar-guard.ts: no entry may land outside it), and how Cunikfile paths are read:
// relative paths inside the context, also once their symlinks are followed (never above it),
// absolute paths on the daemon's host (the context cannot hold /bin/busybox's libraries).

import { createReadStream } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { invalid } from '../errors.js';
import { insideDir } from '../util/inside-dir.js';
import { extractTar, TarGuard, type ContentFiles } from '../util/tar-guard.js';
import { rememberDigest } from './cache.js';

/**
 * Unpack a context tar (a file) into `dir`. Entries escaping the directory (absolute, "..", under
 * a symlink, hard links out, devices) are refused; the caller removes `dir` on error. Entries that
 * refer to content by digest are linked from `store`.
 */
export async function unpackContext(tarFile: string, dir: string, store?: ContentFiles): Promise<number> {
  const extract = tarExtract();
  const feeding = pipeline(createReadStream(tarFile), extract as unknown as NodeJS.WritableStream);
  feeding.catch(() => undefined);
  try {
    // Big files are kept by content (context-store.ts) and their digests remembered, so the
    // builder does not hash a from: archive it was just told the digest of.
    const count = await extractTar(extract, dir, new TarGuard({ what: 'build context', field: 'body' }), store, rememberDigest);
    await feeding;
    return count;
  } catch (err) {
    extract.destroy();
    if ((err as { code?: string }).code === 'INVALID_ARGUMENT') throw err;
    throw invalid(`build context: not a readable tar: ${(err as Error).message}`, 'body');
  }
}

export class Context {
  constructor(readonly dir: string) {}

  /** Host path of a Cunikfile path; `key` names the Cunikfile key in errors. */
  source(p: string, key: string): string {
    if (isAbsolute(p)) return p;
    const full = insideDir(this.dir, p);
    if (full === undefined) {
      // Say "through a symlink" only when the path itself stays inside: "../x" needs no such hint.
      const lexical = relative(this.dir, resolve(this.dir, p));
      const how = lexical === '..' || lexical.startsWith('../') ? '' : ' (through a symlink)';
      throw invalid(`${key}: ${p} is outside the build context${how}`, key);
    }
    return full;
  }

  /** Where a host file goes in the guest: context files at "/" + their path, host files where they are. */
  guestPath(host: string): string {
    const rel = relative(this.dir, host);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return '/' + rel.split('\\').join('/');
    return host;
  }
}
