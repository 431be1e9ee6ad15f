// The build context: the directory the client sent as a tar, unpacked into a private directory,
// and how Cunikfile paths are read: relative paths inside the context (never above it),
// absolute paths on the daemon's host (the context cannot hold /bin/busybox's libraries).

import { createReadStream } from 'node:fs';
import { mkdir, open, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { invalid } from '../errors.js';

/** Unpack a context tar (a file) into `dir`. Entries escaping the directory are refused. */
export async function unpackContext(tarFile: string, dir: string): Promise<number> {
  const extract = tarExtract();
  const feeding = pipeline(createReadStream(tarFile), extract as unknown as NodeJS.WritableStream);
  feeding.catch(() => undefined);
  let count = 0;
  try {
    for await (const entry of extract) {
      const name = posix.normalize(entry.header.name).replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      if (name === '' || name === '.') {
        entry.resume();
        continue;
      }
      if (name.startsWith('/') || name === '..' || name.startsWith('../')) throw invalid(`build context: entry ${JSON.stringify(entry.header.name)} points outside the context`);
      const dest = join(dir, name);
      const mode = (entry.header.mode ?? 0o644) & 0o7777;
      const type = entry.header.type;
      if (type === 'directory') {
        await mkdir(dest, { recursive: true, mode: mode | 0o700 });
        entry.resume();
      } else if (type === 'file' || type === 'contiguous-file') {
        await mkdir(dirname(dest), { recursive: true });
        const fh = await open(dest, 'wx', mode);
        try {
          for await (const chunk of entry) await fh.write(chunk as Buffer);
        } finally {
          await fh.close();
        }
        count++;
      } else if (type === 'symlink' && entry.header.linkname) {
        await mkdir(dirname(dest), { recursive: true });
        await symlink(entry.header.linkname, dest);
        entry.resume();
      } else {
        entry.resume();
      }
    }
    await feeding;
  } catch (err) {
    if ((err as { code?: string }).code === 'INVALID_ARGUMENT') throw err;
    throw invalid(`build context: not a readable tar: ${(err as Error).message}`, 'body');
  }
  return count;
}

export class Context {
  constructor(readonly dir: string) {}

  /** Host path of a Cunikfile path; `key` names the Cunikfile key in errors. */
  source(p: string, key: string): string {
    if (isAbsolute(p)) return p;
    const full = resolve(this.dir, p);
    const rel = relative(this.dir, full);
    if (rel === '..' || rel.startsWith('../')) throw invalid(`${key}: ${p} is outside the build context`, key);
    return full;
  }

  /** Where a host file goes in the guest: context files at "/" + their path, host files where they are. */
  guestPath(host: string): string {
    const rel = relative(this.dir, host);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return '/' + rel.split('\\').join('/');
    return host;
  }
}
