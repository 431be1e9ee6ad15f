// Reading an instance's console output as `logs` serves it (docs/console.md): the backup, then
// console.log; with --tail, --since/--until, --timestamps and -f.
import { PassThrough, type Readable } from 'node:stream';
import { parseTimestamp } from '../events/time.js';
import { invalid } from '../errors.js';
import { inRange, LIMITS, rangeText } from '../api/limits.js';
import { formatTimestamp, offsetSince, timeAt, type IndexRecord } from './console-index.js';
import { CHUNK, ConsoleCursor, lineStart, NL, tailStart, type ConsoleSource } from './console-cursor.js';

export interface ReadConsoleOptions {
  /** Keep streaming new output until `exited` resolves. */
  follow?: boolean;
  /** Settles when the instance has exited (or was removed): the stream drains what is left and ends. */
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
    if (!/^\d+$/.test(q.tail) || !inRange(Number(q.tail), LIMITS.tailLines)) throw invalid(`invalid value for tail: ${JSON.stringify(q.tail)} (a number of lines ${rangeText(LIMITS.tailLines)}, or "all")`, 'tail');
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
      // Rejected: the reader is gone (its wait was abandoned) or the instance was removed; either way, done.
      void opts.exited?.then(stop, stop);
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
