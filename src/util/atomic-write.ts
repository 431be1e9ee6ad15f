// Crash-safe file replacement, the one implementation every store uses: write a temp file beside
// the target, fsync it, rename it over the target, fsync the directory. A reader (or a daemon
// restarted after SIGKILL) sees either the old content or the new one, never half of it, and after
// a power cut the rename is not lost either. Only the fsyncs leave the event loop (the writes are
// small: records, indexes, metadata), which keeps the CPU of a record write low on the hot path of
// start/stop (docs/instances.md).
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);

/** Temp files start with this, so that a store's sweep at start finds what a crash left. */
export const TMP_PREFIX = '.tmp-';

export function tmpName(dir: string, base: string): string {
  return join(dir, `${TMP_PREFIX}${base}-${randomBytes(6).toString('hex')}`);
}

export async function atomicWriteFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = tmpName(dir, basename(path));
  try {
    await writeDurably(tmp, data, mode);
    renameSync(tmp, path);
  } catch (err) {
    unlinkQuiet(tmp);
    throw err;
  }
  await fsyncDirAsync(dir);
}

/** atomicWriteFile, synchronously (small metadata files of the image store); makes the directory. */
export function atomicWriteFileSync(path: string, data: string | Buffer, mode = 0o644): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = tmpName(dir, basename(path));
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    unlinkQuiet(tmp);
    throw err;
  }
  fsyncDir(dir);
}

/** Write a new file and fsync it (for files inside a directory that is itself renamed into place). */
export async function writeDurably(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const fd = openSync(path, 'wx', mode);
  try {
    writeFileSync(fd, data);
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Make a rename (or a new file) in `dir` durable. Some file systems refuse it: the rename is still atomic. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // refused (see above)
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export async function fsyncDirAsync(dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    await fsyncAsync(fd);
  } catch {
    // refused (see fsyncDir)
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never made, or gone
  }
}
