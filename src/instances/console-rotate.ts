// The cap (docs/console.md, "The cap"): moving the front of a console.log that QEMU keeps
// appending to into console.log.1, without QEMU noticing and without blocking it.
import { execFile } from 'node:child_process';
import { ftruncateSync, readSync, writeSync, type Stats } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { ConsoleFiles } from './console-index.js';

/** What rotation needs of the manager's settings. */
export interface RotationPolicy {
  /** console.log's cap in bytes; the backup holds at most as much. */
  readonly maxSize: number;
  /** 'auto': collapse where the file system can, else copy-then-truncate; 'truncate': always the latter. */
  readonly rotation: 'auto' | 'truncate';
  /** Devices whose file system refused FALLOC_FL_COLLAPSE_RANGE (filled in as found). */
  readonly noCollapse: Set<number>;
}

export interface Cut {
  /** Bytes that left the log. */
  removed: number;
  /** Where, in the log as it was, the backup's copy begins. */
  from: number;
  /** The backup begins in the middle of a line. */
  fromCut: boolean;
  /** The log (as cut) begins in the middle of a line. */
  endCut: boolean;
}

const execFileAsync = promisify(execFile);

/**
 * Cut the front of the log into the backup: returns how many bytes left the log and where, in the
 * log as it was, the backup's copy begins (the backup keeps at most maxSize bytes, also when the
 * log grew past `st` meanwhile).
 *
 * QEMU keeps the log open with O_APPEND and never reopens it, so the file must stay the same
 * inode (a rename would leave QEMU writing to the backup). Collapsing the first whole blocks out
 * of the file is atomic with QEMU's appends; truncating to 0 loses what QEMU appends between the
 * last read and the truncate (measured: 28 KB over 26 rotations against a writer doing 1-byte
 * appends flat out; none at the rates a TCG guest prints).
 */
export async function cutLog(files: ConsoleFiles, st: Stats, mgr: RotationPolicy): Promise<Cut> {
  const tmp = `${files.backup}.tmp`;
  const cap = mgr.maxSize;
  if (mgr.rotation === 'auto' && !mgr.noCollapse.has(st.dev)) {
    const block = st.blksize > 0 ? st.blksize : 4096;
    const length = Math.floor((st.size - 1) / block) * block;
    if (length > 0) {
      const from = await lineAfter(files.log, Math.max(0, length - cap), length);
      const fromCut = from > 0 && (await byteAt(files.log, from - 1)) !== 0x0a;
      const endCut = (await byteAt(files.log, length - 1)) !== 0x0a;
      await copyRange(files.log, tmp, from, length);
      await rename(tmp, files.backup);
      try {
        await execFileAsync('fallocate', ['--collapse-range', '--offset', '0', '--length', String(length), files.log]);
        return { removed: length, from, fromCut, endCut };
      } catch {
        mgr.noCollapse.add(st.dev); // e.g. tmpfs, btrfs: copy-then-truncate from now on
      }
    }
  }
  const from = await lineAfter(files.log, Math.max(0, st.size - cap), st.size);
  const fromCut = from > 0 && (await byteAt(files.log, from - 1)) !== 0x0a;
  const log = await open(files.log, 'r+');
  let out: FileHandle;
  try {
    out = await open(tmp, 'w+');
  } catch (err) {
    await log.close();
    throw err;
  }
  let done = false;
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = from;
    while (pos < st.size) {
      const { bytesRead } = await log.read(buf, 0, Math.min(buf.length, st.size - pos), pos);
      if (bytesRead === 0) break;
      await out.write(buf, 0, bytesRead);
      pos += bytesRead;
    }
    await rename(tmp, files.backup); // the open descriptor follows the file
    // Catch up and truncate back to back, synchronously: QEMU's appends in between would be lost.
    for (;;) {
      const n = readSync(log.fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      writeSync(out.fd, buf, 0, n);
      pos += n;
    }
    ftruncateSync(log.fd, 0);
    const last = Buffer.alloc(1);
    const endCut = pos > 0 && readSync(out.fd, last, 0, 1, pos - from - 1) === 1 && last[0] !== 0x0a;
    if (pos - from <= cap) {
      done = true;
      return { removed: pos, from, fromCut, endCut };
    }
    // What QEMU wrote since `st` made the backup longer than the cap: drop its front as well.
    const skip = await lineAfter(files.backup, pos - from - cap, pos - from);
    const skipCut = (await byteAt(files.backup, skip - 1)) !== 0x0a;
    await copyRange(files.backup, tmp, skip, pos - from);
    await rename(tmp, files.backup);
    done = true;
    return { removed: pos, from: from + skip, fromCut: skipCut, endCut };
  } finally {
    await out.close();
    await log.close();
    // A copy that failed midway (a full disk) must not stay behind as a temp file.
    if (!done) await rm(tmp, { force: true });
  }
}

async function byteAt(file: string, pos: number): Promise<number | undefined> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(1);
    return (await fh.read(b, 0, 1, pos)).bytesRead === 1 ? b[0] : undefined;
  } finally {
    await fh.close();
  }
}

/** The start of the first whole line at or after `pos` (before `limit`), so the backup starts at a line. */
async function lineAfter(file: string, pos: number, limit: number): Promise<number> {
  if (pos === 0) return 0;
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4096);
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, limit - pos + 1), pos - 1);
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    return nl < 0 ? pos : pos - 1 + nl + 1; // no newline near: cut mid-line rather than keep it all
  } finally {
    await fh.close();
  }
}

/** Copy a byte range into `target`; on any error (a full disk) both files are closed and `target` removed. */
async function copyRange(source: string, target: string, from: number, to: number): Promise<void> {
  const src = await open(source, 'r');
  let dst: FileHandle | undefined;
  try {
    dst = await open(target, 'w');
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let pos = from; pos < to; ) {
      const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, to - pos), pos);
      if (bytesRead === 0) break;
      await dst.write(buf, 0, bytesRead);
      pos += bytesRead;
    }
  } catch (err) {
    await rm(target, { force: true });
    throw err;
  } finally {
    await dst?.close();
    await src.close();
  }
}
