// The console text an instance's exit is read from (src/instances/exit-status.ts: runConsole):
// only what the guest printed during the run that ended, its last 64 KiB.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
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
