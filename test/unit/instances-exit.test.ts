// The console text an instance's exit is read from (src/instances/exit-status.ts: runConsole):
// only what the guest printed during the run that ended, its last 64 KiB; for a run an earlier
// daemon started, from where its record says it began (console-exit.ts: adoptedRunStart).
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { adoptedRunStart, logicalOffset } from '../../src/instances/console-exit.js';
import { encodeIndex } from '../../src/instances/console-index.js';
import { runConsole } from '../../src/instances/exit-status.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-exit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('runConsole: the run that began at `from`; the tail without it or after a rotation; empty without a log', () => {
  const log = join(dir, 'console.log');
  writeFileSync(log, 'an earlier run\nbye 1\n');
  const from = statSync(log).size;
  appendFileSync(log, 'this run\n');
  assert.equal(runConsole(log, from), 'this run\n');
  assert.equal(runConsole(log), 'an earlier run\nbye 1\nthis run\n');
  assert.equal(runConsole(log, from + 1000), 'an earlier run\nbye 1\nthis run\n', 'rotated since: the log is shorter than where the run began');
  appendFileSync(log, 'x'.repeat(70 * 1024) + '\nbye 2\n');
  const tail = runConsole(log, from);
  assert.equal(tail.length, 64 * 1024);
  assert.ok(tail.endsWith('\nbye 2\n'));
  assert.equal(runConsole(join(dir, 'none.log')), '');
});

test('adoptedRunStart: where a run started by an earlier daemon begins in console.log as it is now (logical start, rotation, 64 KiB bound)', () => {
  const sub = mkdtempSync(join(dir, 'adopt-'));
  const log = join(sub, 'console.log');
  writeFileSync(log, 'an earlier run\n=== _exit(0) called ===\n');
  const start = logicalOffset(log, statSync(log).size); // as launch.ts records it
  assert.equal(start, 39);
  appendFileSync(log, 'waiting\n');
  const cases: Array<[string, () => void, number | null | undefined, number | undefined]> = [
    ['a record from before consoleStart: unknown', () => undefined, undefined, undefined],
    ['null: unknown', () => undefined, null, undefined],
    ['no rotation: the run starts where the record says', () => undefined, start, 39],
    // 30 bytes rotated out (console.idx shift 30): the same logical start is 30 bytes earlier in the file.
    ['rotated by 30 bytes', () => writeFileSync(join(sub, 'console.idx'), encodeIndex({ shift: 30, backupStart: 0 })), start, 9],
    ['rotated past the start: the whole log is this run\'s', () => writeFileSync(join(sub, 'console.idx'), encodeIndex({ shift: 100, backupStart: 0 })), start, 0],
    ['a start beyond the log (a lost index): the end', () => rmSync(join(sub, 'console.idx')), 10_000, statSync(log).size],
  ];
  for (const [name, setup, consoleStart, want] of cases) {
    setup();
    assert.equal(adoptedRunStart(log, consoleStart), want, name);
  }
  appendFileSync(log, 'x'.repeat(70 * 1024));
  assert.equal(adoptedRunStart(log, start), statSync(log).size - 64 * 1024, 'at most the last 64 KiB');
  assert.equal(runConsole(log, adoptedRunStart(log, start)).length, 64 * 1024);
});
