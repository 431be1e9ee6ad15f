// Reading an instance's console (docs/console.md). QEMU writes console.log itself; beside it the
// daemon keeps console.log.1 (the one rotated backup) and console.idx (when it saw the log grow),
// both maintained by console.ts. Offsets here are *logical*: a byte's position in the instance's
// whole console output, which rotation never changes. console.log's first byte is at `shift`,
// console.log.1's at `backupStart`; the backup ends where console.log begins.
import { watch } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { parseTimestamp } from '../events/time.js';
import { invalid } from '../errors.js';

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
  const buf = await readFile(files.index).catch(() => undefined);
  const decoded = buf && decodeIndex(buf);
  if (decoded) return decoded;
  const backupSize = (await stat(files.backup).catch(() => undefined))?.size ?? 0;
  return { shift: backupSize, backupStart: 0, records: [] };
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

/** What a console's reader needs from whoever maintains it (console.ts for watched instances). */
export interface ConsoleSource {
  readonly files: ConsoleFiles;
  /** The current layout and its generation; while a rotation is under way, waits for its end. */
  layout(): Promise<{ layout: ConsoleLayout; gen: number }>;
  /** True once the layout has changed (a rotation began) since `gen` was handed out. */
  stale(gen: number): boolean;
  /** The index, brought up to date with the file first when the console is watched. */
  index(): Promise<ConsoleIndex>;
  /** Records kept in memory past `offset` (a follower's new output); may be empty. */
  recent(offset: number): IndexRecord[];
  /** The time to give bytes past the last record: now for a watched console, else the log's mtime. */
  untimed(): Promise<number>;
  /** Call `wake` whenever the log may have grown or rotated; returns the unsubscribe function. */
  subscribe(wake: () => void): () => void;
}

/** A console nobody maintains (its instance is not running): read as the files are. */
export function staticConsole(files: ConsoleFiles): ConsoleSource {
  let index: Promise<ConsoleIndex> | undefined;
  const load = (): Promise<ConsoleIndex> => (index ??= loadIndex(files));
  return {
    files,
    layout: async () => {
      const { shift, backupStart, headCut, logCut } = await load();
      return { layout: { shift, backupStart, headCut, logCut }, gen: 0 };
    },
    stale: () => false,
    index: load,
    recent: () => [],
    untimed: async () => (await stat(files.log).catch(() => undefined))?.mtimeMs ?? Date.now(),
    subscribe: (wake) => {
      try {
        const w = watch(files.log, () => wake());
        w.on('error', () => w.close());
        return () => w.close();
      } catch {
        return () => undefined;
      }
    },
  };
}

/** Positioned reads by logical offset, safe against a rotation happening meanwhile. */
export class ConsoleCursor {
  private log: FileHandle | undefined;
  private logOpened = false;
  private backup: { fh: FileHandle | undefined; gen: number } | undefined;

  constructor(private readonly src: ConsoleSource) {}

  private async logHandle(): Promise<FileHandle | undefined> {
    if (!this.logOpened) {
      this.logOpened = true;
      this.log = await open(this.src.files.log, 'r').catch(() => undefined);
    }
    return this.log;
  }

  private async backupHandle(gen: number): Promise<FileHandle | undefined> {
    if (this.backup?.gen !== gen) {
      await this.backup?.fh?.close().catch(() => undefined);
      this.backup = { fh: await open(this.src.files.backup, 'r').catch(() => undefined), gen };
    }
    return this.backup.fh;
  }

  /** The logical offset just past the last byte written so far. */
  async end(): Promise<number> {
    for (;;) {
      const { layout, gen } = await this.src.layout();
      const fh = await this.logHandle();
      const size = fh ? (await fh.stat()).size : 0;
      if (!this.src.stale(gen)) return layout.shift + size;
    }
  }

  /** The first logical offset still kept, past a line fragment whose start was dropped. */
  async begin(): Promise<number> {
    const { layout } = await this.src.layout();
    if (!layout.headCut) return layout.backupStart;
    const buf = Buffer.allocUnsafe(4096);
    const { pos, n } = await this.read(layout.backupStart, buf);
    const nl = buf.subarray(0, n).indexOf(NL);
    return nl < 0 ? pos : pos + nl + 1;
  }

  /**
   * Read up to `len` bytes at `pos` (never across the backup/log boundary). `pos` moves forward
   * when its bytes were rotated away meanwhile: the returned `pos` is where the bytes come from.
   */
  async read(pos: number, buf: Buffer, len = buf.length): Promise<{ pos: number; n: number }> {
    for (;;) {
      const { layout, gen } = await this.src.layout();
      let at = Math.max(pos, layout.backupStart);
      let n = 0;
      if (at < layout.shift) {
        const fh = await this.backupHandle(gen);
        if (fh) n = (await fh.read(buf, 0, Math.min(len, layout.shift - at), at - layout.backupStart)).bytesRead;
        if (n === 0 && !this.src.stale(gen)) at = layout.shift; // a missing or short backup: go on with the log
      }
      if (at >= layout.shift) {
        const fh = await this.logHandle();
        n = fh ? (await fh.read(buf, 0, len, at - layout.shift)).bytesRead : 0;
      }
      if (!this.src.stale(gen)) return { pos: at, n };
    }
  }

  async close(): Promise<void> {
    await this.log?.close().catch(() => undefined);
    await this.backup?.fh?.close().catch(() => undefined);
    this.log = undefined;
    this.backup = undefined;
  }
}

const NL = 0x0a;
const CHUNK = 64 * 1024;

/**
 * The offset where the last `lines` lines of [begin, end) start. A final line without its newline
 * counts as a line (docker logs --tail does the same).
 */
export async function tailStart(cur: ConsoleCursor, begin: number, end: number, lines: number): Promise<number> {
  if (lines <= 0) return end;
  const buf = Buffer.allocUnsafe(CHUNK);
  let count = 0;
  let pos = end;
  while (pos > begin) {
    const from = Math.max(begin, pos - CHUNK);
    const { pos: got, n } = await readFully(cur, from, pos - from, buf);
    if (got > from) return got; // the older part was rotated away meanwhile
    for (let i = n - 1; i >= 0; i--) {
      if (buf[i] !== NL || from + i === end - 1) continue;
      if (++count === lines) return from + i + 1;
    }
    pos = from;
  }
  return begin;
}

/** The start of the line holding the byte at `offset`. */
export async function lineStart(cur: ConsoleCursor, begin: number, offset: number): Promise<number> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = offset;
  while (pos > begin) {
    const from = Math.max(begin, pos - CHUNK);
    const { pos: got, n } = await readFully(cur, from, pos - from, buf);
    if (got > from) return got;
    const i = buf.subarray(0, n).lastIndexOf(NL);
    if (i >= 0) return from + i + 1;
    pos = from;
  }
  return begin;
}

/** Read [from, from + len) into buf, across the backup/log boundary. `pos` > from: the start was rotated away. */
async function readFully(cur: ConsoleCursor, from: number, len: number, buf: Buffer): Promise<{ pos: number; n: number }> {
  let filled = 0;
  while (filled < len) {
    const { pos, n } = await cur.read(from + filled, buf.subarray(filled), len - filled);
    if (pos !== from + filled) return { pos, n: 0 };
    if (n === 0) break;
    filled += n;
  }
  return { pos: from, n: filled };
}

export interface ReadConsoleOptions {
  /** Keep streaming new output until `exited` resolves. */
  follow?: boolean;
  /** Resolves when the instance has exited: the stream drains what is left and ends. */
  exited?: Promise<unknown> | undefined;
  /** Only the last N lines (of what exists when the request starts). */
  tail?: number | undefined;
  /** Only what is written from now on (an attach session opened before the instance starts). */
  fromEnd?: boolean | undefined;
  /** Only lines the daemon saw at or after / at or before this time (ms since the epoch). */
  sinceMs?: number | undefined;
  untilMs?: number | undefined;
  /** Prefix each line with its time (RFC 3339, nine fractional digits) and a space. */
  timestamps?: boolean | undefined;
}

/** The logs query as the API takes it, checked; times accept what `events --since` does. */
export function parseLogsOptions(q: { tail?: string | undefined; since?: string | undefined; until?: string | undefined }, nowMs: number): Pick<ReadConsoleOptions, 'tail' | 'sinceMs' | 'untilMs'> {
  const out: Pick<ReadConsoleOptions, 'tail' | 'sinceMs' | 'untilMs'> = {};
  if (q.tail !== undefined && q.tail !== 'all') {
    if (!/^\d+$/.test(q.tail)) throw invalid(`invalid value for tail: ${JSON.stringify(q.tail)} (a number of lines, or "all")`, 'tail');
    out.tail = Number(q.tail);
  }
  if (q.since !== undefined) out.sinceMs = parseTimestamp(q.since, nowMs * 1000, 'since') / 1000;
  if (q.until !== undefined) out.untilMs = parseTimestamp(q.until, nowMs * 1000, 'until') / 1000;
  return out;
}

/**
 * The console's output as a stream: the backup, then console.log; with `tail`/`since`/`until`
 * only part of it, with `timestamps` each line prefixed with its time. With `follow`, output
 * written later is streamed as it comes, across rotations, until `exited` resolves.
 */
export function readConsole(src: ConsoleSource, opts: ReadConsoleOptions = {}): Readable {
  const out = new PassThrough();
  const cur = new ConsoleCursor(src);
  const lineMode = opts.timestamps === true || opts.sinceMs !== undefined || opts.untilMs !== undefined;
  let records: IndexRecord[] = [];
  let untimed = 0;
  let partial: Buffer[] = [];
  let partialStart = 0;
  let sinceMet = opts.sinceMs === undefined;
  let done = false;
  let unsubscribe: () => void = () => undefined;

  const finish = async (err?: Error): Promise<void> => {
    if (done) return;
    done = true;
    unsubscribe();
    await cur.close();
    if (err) out.destroy(err);
    else out.end();
  };
  out.on('close', () => void finish());

  const write = async (chunk: Buffer | string): Promise<void> => {
    if (done || out.destroyed) return;
    if (!out.write(chunk)) await new Promise((r) => {
        out.once('drain', r);
        out.once('close', r);
      });
  };

  const timeOf = (offset: number): number => timeAt(records, offset) ?? untimed;

  /** One complete line (or the final partial one) ending just before `end`. Returns false to stop. */
  const emitLine = async (line: Buffer, end: number): Promise<boolean> => {
    const time = timeOf(end - 1);
    if (!sinceMet) {
      if (time < opts.sinceMs!) return true;
      sinceMet = true;
    }
    if (opts.untilMs !== undefined && time > opts.untilMs) return false;
    await write(opts.timestamps ? Buffer.concat([Buffer.from(`${formatTimestamp(time)} `), line]) : line);
    return true;
  };

  /** Pass the bytes at [pos, pos + n) on; false once `until` is past. */
  const emit = async (chunk: Buffer, pos: number): Promise<boolean> => {
    if (!lineMode) {
      await write(Buffer.from(chunk)); // a copy: the read buffer is reused
      return true;
    }
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, from);
      if (nl < 0) break;
      const piece = chunk.subarray(from, nl + 1);
      const line = partial.length ? Buffer.concat([...partial, piece]) : Buffer.from(piece);
      partial = [];
      if (!(await emitLine(line, pos + nl + 1))) return false;
      from = nl + 1;
      partialStart = pos + from;
    }
    if (from < chunk.length) partial.push(Buffer.from(chunk.subarray(from)));
    if (records.length > 4096) records = records.filter((r) => r.offset > partialStart);
    return true;
  };

  const flushPartial = async (end: number): Promise<void> => {
    if (!lineMode || partial.length === 0) return;
    const line = Buffer.concat(partial);
    partial = [];
    await emitLine(line, end);
  };

  const buf = Buffer.allocUnsafe(CHUNK);
  /** Copy [pos, end) (or to the end of the file when end is undefined); returns the new position, -1 to stop. */
  const pump = async (pos: number, end?: number): Promise<number> => {
    for (;;) {
      if (done) return -1;
      const want = end === undefined ? buf.length : Math.min(buf.length, end - pos);
      if (want <= 0) return pos;
      const got = await cur.read(pos, buf, want);
      if (got.pos !== pos) {
        // Rotated away before this reader got to it: a line may have lost its beginning.
        partial = [];
        partialStart = got.pos;
      }
      if (got.n === 0) return got.pos;
      if (!(await emit(buf.subarray(0, got.n), got.pos))) return -1;
      pos = got.pos + got.n;
    }
  };

  void (async () => {
    try {
      // Subscribed first, so nothing written from now on is missed.
      let woken = false;
      let wake: (() => void) | undefined;
      if (opts.follow) {
        unsubscribe = src.subscribe(() => {
          woken = true;
          wake?.();
        });
      }
      const index = await src.index();
      records = index.records;
      untimed = await src.untimed();
      const begin = await cur.begin();
      const end = await cur.end();
      let pos = begin;
      if (opts.fromEnd) pos = end;
      else if (opts.tail !== undefined) pos = await tailStart(cur, begin, end, opts.tail);
      else if (opts.sinceMs !== undefined) pos = await lineStart(cur, begin, offsetSince(records, opts.sinceMs, begin));
      partialStart = pos;
      pos = await pump(pos, end);
      if (pos < 0) return await finish();
      if (!opts.follow) {
        await flushPartial(pos);
        return await finish();
      }
      let exited = false;
      const stop = (): void => {
        exited = true;
        wake?.();
      };
      void opts.exited?.then(stop);
      // With an end time, following stops then (what comes later would be filtered out anyway).
      if (opts.untilMs !== undefined) {
        const timer = setTimeout(stop, Math.max(0, opts.untilMs - Date.now()));
        out.once('close', () => clearTimeout(timer));
      }
      for (;;) {
        if (!woken && !exited) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        woken = false;
        const last = exited;
        records.push(...src.recent(records[records.length - 1]?.offset ?? pos));
        untimed = await src.untimed();
        pos = await pump(pos);
        if (pos < 0) return await finish();
        if (last) break;
      }
      await flushPartial(pos);
      await finish();
    } catch (err) {
      await finish(err as Error);
    }
  })();
  return out;
}
