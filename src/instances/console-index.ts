// An instance's console files and the index of when its output arrived (docs/console.md). QEMU
// writes console.log itself; beside it the daemon keeps console.log.1 (the one rotated backup) and
// console.idx (when it saw the log grow), both maintained by console-live.ts. Offsets are
// *logical*: a byte's position in the instance's whole console output, which rotation never
// changes. console.log's first byte is at `shift`, console.log.1's at `backupStart`; the backup
// ends where console.log begins.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ConsoleFiles {
  /** Written by QEMU (logfile=..., logappend=on). */
  log: string;
  /** The rotated backup: the output just before console.log's. */
  backup: string;
  /** The sidecar index: a header (layout) then (offset, time) records. */
  index: string;
}

export function consoleFiles(consoleLog: string): ConsoleFiles {
  return { log: consoleLog, backup: `${consoleLog}.1`, index: join(dirname(consoleLog), 'console.idx') };
}

export interface ConsoleLayout {
  /** Logical offset of console.log's first byte. */
  shift: number;
  /** Logical offset of console.log.1's first byte; equal to `shift` when there is no backup. */
  backupStart: number;
  /** The first kept byte (at backupStart) is in the middle of a line whose start was dropped. */
  headCut?: boolean | undefined;
  /** console.log's first byte is in the middle of a line (the rotation cut there). */
  logCut?: boolean | undefined;
}

/** "Every byte before `offset` was in the log at `time`" (ms since the epoch, with a fraction). */
export interface IndexRecord {
  offset: number;
  time: number;
}

export interface ConsoleIndex extends ConsoleLayout {
  records: IndexRecord[];
}

// console.idx: a 32-byte header ("CNKIDX01", shift, backupStart, flags: 1 headCut, 2 logCut;
// little-endian doubles)
// then 16-byte records (offset, time). Appends are whole records; a torn last one is ignored.
const MAGIC = Buffer.from('CNKIDX01', 'latin1');
export const INDEX_HEADER_SIZE = 32;
export const INDEX_RECORD_SIZE = 16;

export function encodeIndex(layout: ConsoleLayout, records: readonly IndexRecord[] = []): Buffer {
  const buf = Buffer.alloc(INDEX_HEADER_SIZE + records.length * INDEX_RECORD_SIZE);
  MAGIC.copy(buf, 0);
  buf.writeDoubleLE(layout.shift, 8);
  buf.writeDoubleLE(layout.backupStart, 16);
  buf.writeDoubleLE((layout.headCut ? 1 : 0) | (layout.logCut ? 2 : 0), 24);
  records.forEach((r, i) => encodeRecord(r, buf, INDEX_HEADER_SIZE + i * INDEX_RECORD_SIZE));
  return buf;
}

export function encodeRecord(r: IndexRecord, buf = Buffer.alloc(INDEX_RECORD_SIZE), at = 0): Buffer {
  buf.writeDoubleLE(r.offset, at);
  buf.writeDoubleLE(r.time, at + 8);
  return buf;
}

/** undefined when `buf` is not an index (no magic, or a nonsensical header). */
export function decodeIndex(buf: Buffer): ConsoleIndex | undefined {
  if (buf.length < INDEX_HEADER_SIZE || !buf.subarray(0, 8).equals(MAGIC)) return undefined;
  const shift = buf.readDoubleLE(8);
  const backupStart = buf.readDoubleLE(16);
  const flags = buf.readDoubleLE(24);
  if (!(shift >= 0 && backupStart >= 0 && backupStart <= shift)) return undefined;
  const records: IndexRecord[] = [];
  for (let at = INDEX_HEADER_SIZE; at + INDEX_RECORD_SIZE <= buf.length; at += INDEX_RECORD_SIZE) {
    const offset = buf.readDoubleLE(at);
    const time = buf.readDoubleLE(at + 8);
    const last = records[records.length - 1];
    // Keep the records sorted whatever happened (a clock step back is clamped when written).
    if (!Number.isFinite(offset) || !Number.isFinite(time) || (last && (offset <= last.offset || time < last.time))) continue;
    records.push({ offset, time });
  }
  return { shift, backupStart, headCut: (flags & 1) !== 0, logCut: (flags & 2) !== 0, records };
}

/**
 * The index of a console, or what can be known without one (a console from before indexes, or a
 * lost index): no records, and the backup, if any, right before console.log.
 */
export async function loadIndex(files: ConsoleFiles): Promise<ConsoleIndex> {
  const decoded = readIndex(files);
  if (decoded) return decoded;
  const backupSize = statSync(files.backup, { throwIfNoEntry: false })?.size ?? 0;
  return { shift: backupSize, backupStart: 0, records: [] };
}

/**
 * The stored index, if there is a readable one. Synchronous on purpose (as the instance store's
 * small calls): a few hundred bytes read in microseconds, where the promise version costs a
 * thread-pool round trip per open, stat, read and close, and an Error with a stack when the file
 * is missing, as it is for every new instance (docs/instances.md, "Cost per lifecycle").
 */
export function readIndex(files: ConsoleFiles): ConsoleIndex | undefined {
  if (!existsSync(files.index)) return undefined;
  try {
    return decodeIndex(readFileSync(files.index));
  } catch {
    return undefined;
  }
}

/** The time of the byte at `offset`: that of the first record past it; undefined if none is. */
export function timeAt(records: readonly IndexRecord[], offset: number): number | undefined {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (records[mid]!.offset > offset) hi = mid;
    else lo = mid + 1;
  }
  return records[lo]?.time;
}

/**
 * Where output at or after `time` can begin: every byte before the returned offset was in the
 * log before `time`. Bytes past it may be older too (a record covers a span); callers filter lines.
 */
export function offsetSince(records: readonly IndexRecord[], time: number, begin: number): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (records[mid]!.time >= time) hi = mid;
    else lo = mid + 1;
  }
  return lo === 0 ? begin : Math.max(begin, records[lo - 1]!.offset);
}

/** RFC 3339 with nine fractional digits, as `docker logs -t` prints: 2026-11-22T04:00:00.123456000Z. */
export function formatTimestamp(ms: number): string {
  const whole = Math.floor(ms);
  const us = Math.min(999, Math.floor((ms - whole) * 1000));
  const iso = new Date(whole).toISOString(); // ....sssZ
  return `${iso.slice(0, -1)}${String(us).padStart(3, '0')}000Z`;
}
