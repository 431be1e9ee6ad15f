// Crash-safe file replacement: write a temp file beside the target, fsync it, rename it over
// the target, so a reader (or a daemon restarted after SIGKILL, or a host after a power cut)
// sees either the old content or the new one, never half of it. The directory is not fsynced
// (on a power cut the rename itself may be lost, leaving the previous complete record): it
// would double the cost of every state change on the hot path of start/stop.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function atomicWriteFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Write a new file and fsync it (for files inside a directory that is itself renamed into place). */
export async function writeDurably(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
