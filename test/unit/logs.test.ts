// Reading consoles: the index format and lookups, the logs query, tail/since/until/timestamps on
// real files (a backup and a log), and a follower.
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { ConsoleCursor, staticConsole, tailStart } from '../../src/instances/console-cursor.js';
import {
  consoleFiles,
  decodeIndex,
  encodeIndex,
  encodeRecord,
  formatTimestamp,
  loadIndex,
  offsetSince,
  timeAt,
  type ConsoleFiles,
  type IndexRecord,
} from '../../src/instances/console-index.js';
import { parseLogsOptions, readConsole } from '../../src/instances/logs.js';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cunik-logs-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

async function text(stream: Readable): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += String(chunk);
  return s;
}

/** A console with the given backup and log contents, layout and records. */
async function makeConsole(opts: { log: string; backup?: string; records?: IndexRecord[]; headCut?: boolean; mtime?: number }): Promise<ConsoleFiles> {
  const d = join(dir, `c${n++}`);
  await mkdir(d);
  const files = consoleFiles(join(d, 'console.log'));
  await writeFile(files.log, opts.log);
  const backupSize = opts.backup === undefined ? 0 : Buffer.byteLength(opts.backup);
  if (opts.backup !== undefined) await writeFile(files.backup, opts.backup);
  const base = 1000; // logical offset of the backup: some output was dropped before it
  await writeFile(files.index, encodeIndex({ shift: base + backupSize, backupStart: base, headCut: opts.headCut ?? false }, opts.records ?? []));
  if (opts.mtime !== undefined) await utimes(files.log, opts.mtime / 1000, opts.mtime / 1000);
  return files;
}

test('the index round-trips; a torn or out-of-order record is dropped; a bad header is no index', () => {
  const records = [
    { offset: 10, time: 1000.5 },
    { offset: 25, time: 2000 },
  ];
  const buf = encodeIndex({ shift: 5, backupStart: 2, headCut: true, logCut: false }, records);
  assert.deepEqual(decodeIndex(buf), { shift: 5, backupStart: 2, headCut: true, logCut: false, records });
  const torn = Buffer.concat([buf, encodeRecord({ offset: 30, time: 3000 }).subarray(0, 9)]);
  assert.equal(decodeIndex(torn)!.records.length, 2);
  const backwards = Buffer.concat([buf, encodeRecord({ offset: 20, time: 3000 }), encodeRecord({ offset: 40, time: 1500 })]);
  assert.deepEqual(decodeIndex(backwards)!.records, records);
  assert.equal(decodeIndex(Buffer.from('not an index at all, really, no')), undefined);
  assert.equal(decodeIndex(encodeIndex({ shift: 1, backupStart: 2 })), undefined); // backup after the log
});

test('without an index, a backup is taken to come right before the log, with no times', async () => {
  const d = join(dir, 'noindex');
  await mkdir(d);
  const files = consoleFiles(join(d, 'console.log'));
  await writeFile(files.log, 'b\n');
  assert.deepEqual(await loadIndex(files), { shift: 0, backupStart: 0, records: [] });
  await writeFile(files.backup, 'a\n');
  assert.deepEqual(await loadIndex(files), { shift: 2, backupStart: 0, records: [] });
  assert.equal(await text(readConsole(staticConsole(files))), 'a\nb\n');
});

test('timeAt: a byte has the time of the first record past it', () => {
  const records = [
    { offset: 10, time: 100 },
    { offset: 20, time: 200 },
    { offset: 30, time: 300 },
  ];
  assert.equal(timeAt(records, 0), 100);
  assert.equal(timeAt(records, 9), 100);
  assert.equal(timeAt(records, 10), 200);
  assert.equal(timeAt(records, 29), 300);
  assert.equal(timeAt(records, 30), undefined);
  assert.equal(timeAt([], 0), undefined);
});

test('offsetSince: everything before the offset is older than the time', () => {
  const records = [
    { offset: 10, time: 100 },
    { offset: 20, time: 200 },
    { offset: 30, time: 300 },
  ];
  assert.equal(offsetSince(records, 50, 0), 0);
  assert.equal(offsetSince(records, 100, 0), 0);
  assert.equal(offsetSince(records, 150, 0), 10);
  assert.equal(offsetSince(records, 200, 0), 10);
  assert.equal(offsetSince(records, 250, 0), 20);
  assert.equal(offsetSince(records, 999, 0), 30); // only unrecorded output can be that recent
  assert.equal(offsetSince(records, 150, 15), 15);
});

test('timestamps print as RFC 3339 with nine fractional digits, in UTC', () => {
  assert.equal(formatTimestamp(Date.UTC(2026, 10, 22, 4, 5, 6, 7)), '2026-11-22T04:05:06.007000000Z');
  assert.equal(formatTimestamp(Date.UTC(2026, 0, 1) + 0.123456), '2026-01-01T00:00:00.000123000Z');
});

test('the logs query: tail is a count or "all"; since and until take every form events does', () => {
  const now = Date.UTC(2026, 10, 22, 12, 0, 0);
  assert.deepEqual(parseLogsOptions({}, now), {});
  assert.deepEqual(parseLogsOptions({ tail: 'all' }, now), {});
  assert.deepEqual(parseLogsOptions({ tail: '0' }, now), { tail: 0 });
  assert.deepEqual(parseLogsOptions({ tail: '25' }, now), { tail: 25 });
  assert.throws(() => parseLogsOptions({ tail: '-1' }, now), (e: CunikError) => e.code === 'INVALID_ARGUMENT' && e.field === 'tail');
  assert.equal(parseLogsOptions({ since: '10s' }, now).sinceMs, now - 10_000);
  assert.equal(parseLogsOptions({ since: '5m' }, now).sinceMs, now - 300_000);
  assert.equal(parseLogsOptions({ since: '1h' }, now).sinceMs, now - 3_600_000);
  assert.equal(parseLogsOptions({ since: '1h30m' }, now).sinceMs, now - 5_400_000);
  assert.equal(parseLogsOptions({ since: '1763784000' }, now).sinceMs, 1_763_784_000_000);
  assert.equal(parseLogsOptions({ since: '1763784000.25' }, now).sinceMs, 1_763_784_000_250);
  assert.equal(parseLogsOptions({ since: '2026-11-22T11:00:00Z' }, now).sinceMs, now - 3_600_000);
  assert.equal(parseLogsOptions({ since: '2026-11-22T13:00:00+02:00' }, now).sinceMs, now - 3_600_000);
  assert.equal(parseLogsOptions({ until: '2026-11-22T12:00:00.5Z' }, now).untilMs, now + 500);
  assert.throws(() => parseLogsOptions({ since: 'yesterday' }, now), (e: CunikError) => e.code === 'INVALID_ARGUMENT' && e.field === 'since');
  assert.throws(() => parseLogsOptions({ until: '2026-02-31' }, now), (e: CunikError) => e.field === 'until');
});

test('logs read the backup first, then the log; a line cut by rotation is not shown in halves', async () => {
  const files = await makeConsole({ backup: 'ne one\nline two\n', log: 'line three\nline four\n', headCut: true });
  assert.equal(await text(readConsole(staticConsole(files))), 'line two\nline three\nline four\n');
  const whole = await makeConsole({ backup: 'line one\nline two\n', log: 'line three\n' });
  assert.equal(await text(readConsole(staticConsole(whole))), 'line one\nline two\nline three\n');
});

test('tail counts lines from the end, across the backup and the log, with or without a final newline', async () => {
  const files = await makeConsole({ backup: 'a\nb\nc\n', log: 'd\ne\n' });
  const tail = (k: number) => text(readConsole(staticConsole(files), { tail: k }));
  assert.equal(await tail(0), '');
  assert.equal(await tail(1), 'e\n');
  assert.equal(await tail(2), 'd\ne\n');
  assert.equal(await tail(3), 'c\nd\ne\n');
  assert.equal(await tail(100), 'a\nb\nc\nd\ne\n');
  const partial = await makeConsole({ log: 'x\ny\nprompt> ' });
  assert.equal(await text(readConsole(staticConsole(partial), { tail: 1 })), 'prompt> ');
  assert.equal(await text(readConsole(staticConsole(partial), { tail: 2 })), 'y\nprompt> ');
});

test('tailStart finds the line starts in a file bigger than its read buffer', async () => {
  const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}\n`).join('');
  const files = await makeConsole({ log: lines });
  const cur = new ConsoleCursor(staticConsole(files));
  const end = await cur.end();
  const begin = await cur.begin();
  const start = await tailStart(cur, begin, end, 15_000);
  await cur.close();
  assert.equal(start - begin, Buffer.byteLength(Array.from({ length: 5_000 }, (_, i) => `line ${i}\n`).join('')));
});

test('--since and --until pick lines by the time their last byte was seen; --timestamps prefixes it', async () => {
  // Backup at logical 1000: "old\n" (4 bytes), then the log "mid\nnew\n".
  const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);
  const files = await makeConsole({
    backup: 'old\n',
    log: 'mid\nnew\n',
    records: [
      { offset: 1004, time: t0 },
      { offset: 1008, time: t0 + 60_000 },
      { offset: 1012, time: t0 + 120_000 },
    ],
  });
  const read = (o: Parameters<typeof readConsole>[1]) => text(readConsole(staticConsole(files), o));
  assert.equal(await read({ sinceMs: t0 + 1 }), 'mid\nnew\n');
  assert.equal(await read({ sinceMs: t0 + 60_000 }), 'mid\nnew\n');
  assert.equal(await read({ sinceMs: t0 + 60_001 }), 'new\n');
  assert.equal(await read({ sinceMs: t0 + 999_999 }), '');
  assert.equal(await read({ untilMs: t0 + 60_000 }), 'old\nmid\n');
  assert.equal(await read({ sinceMs: t0 + 1, untilMs: t0 + 60_000 }), 'mid\n');
  assert.equal(
    await read({ timestamps: true }),
    '2026-11-22T10:00:00.000000000Z old\n2026-11-22T10:01:00.000000000Z mid\n2026-11-22T10:02:00.000000000Z new\n',
  );
  assert.equal(await read({ timestamps: true, tail: 1 }), '2026-11-22T10:02:00.000000000Z new\n');
});

test('output past the last record gets the time of the last write (the log file mtime)', async () => {
  const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);
  const files = await makeConsole({ log: 'seen\nunseen\n', records: [{ offset: 1005, time: t0 }], mtime: t0 + 3_600_000 });
  assert.equal(await text(readConsole(staticConsole(files), { timestamps: true })), '2026-11-22T10:00:00.000000000Z seen\n2026-11-22T11:00:00.000000000Z unseen\n');
  assert.equal(await text(readConsole(staticConsole(files), { sinceMs: t0 + 1 })), 'unseen\n');
});

test('a follower streams what is appended until the instance exits, then drains and ends', async () => {
  const files = await makeConsole({ log: 'first\n' });
  let exit!: () => void;
  const exited = new Promise<void>((r) => (exit = r));
  const stream = readConsole(staticConsole(files), { follow: true, exited });
  const got: string[] = [];
  stream.on('data', (c) => got.push(String(c)));
  const deadline = Date.now() + 5000;
  while (got.join('') !== 'first\n' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await appendFile(files.log, 'second\n');
  while (got.join('') !== 'first\nsecond\n' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(got.join(''), 'first\nsecond\n');
  await appendFile(files.log, 'last words');
  exit();
  await new Promise((r) => stream.once('end', r));
  assert.equal(got.join(''), 'first\nsecond\nlast words');
});
