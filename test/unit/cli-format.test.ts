// The CLI's table and time formatting, as docker prints them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ago, table } from '../../src/cli/format/table.js';

test('table: columns padded to the widest cell plus three spaces, the last unpadded, trailing blanks trimmed', () => {
  const out = table(
    ['ID', 'IMAGE', 'PORTS', 'NAMES'],
    [
      ['a1', 'hello', '', 'x'],
      ['b22222', 'h', '127.0.0.1:8080->80/tcp', 'longer_name'],
      ['c', 'img', '', ''],
    ],
  );
  assert.equal(
    out,
    [
      'ID       IMAGE   PORTS                    NAMES',
      'a1       hello                            x',
      'b22222   h       127.0.0.1:8080->80/tcp   longer_name',
      'c        img',
      '',
    ].join('\n'),
  );
});

test('table: headers alone when there are no rows; a header wider than every cell sets the width', () => {
  assert.equal(table(['INSTANCE ID', 'NAMES'], []), 'INSTANCE ID   NAMES\n');
  assert.equal(table(['A', 'B'], [['x', 'y']]), 'A   B\nx   y\n');
});

test('table: 1,000 rows render the same as row by row', () => {
  const rows = Array.from({ length: 1000 }, (_, i) => [`id${i}`, 'hello', `"idle"`, `${i % 60} seconds ago`, 'Up 3 minutes', '', `name_${i}`]);
  const out = table(['INSTANCE ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], rows).split('\n');
  assert.equal(out.length, 1002);
  // Widths: INSTANCE ID 11, IMAGE 5, COMMAND 7, CREATED 14 ("39 seconds ago"), STATUS 12, PORTS 5.
  const row = (id: string, created: string, name: string): string =>
    id.padEnd(14) + 'hello'.padEnd(8) + '"idle"'.padEnd(10) + created.padEnd(17) + 'Up 3 minutes'.padEnd(15) + ''.padEnd(8) + name;
  assert.equal(out[0], 'INSTANCE ID   IMAGE   COMMAND   CREATED          STATUS         PORTS   NAMES');
  assert.equal(out[1], row('id0', '0 seconds ago', 'name_0'));
  assert.equal(out[1000], row('id999', '39 seconds ago', 'name_999'));
});

test('ago: seconds, minutes, hours, then days', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  assert.equal(ago('2026-11-22T11:59:59Z', now), '1 second ago');
  assert.equal(ago('2026-11-22T11:59:30Z', now), '30 seconds ago');
  assert.equal(ago('2026-11-22T11:58:00Z', now), '2 minutes ago');
  assert.equal(ago('2026-11-22T09:00:00Z', now), '3 hours ago');
  assert.equal(ago('2026-11-19T12:00:00Z', now), '3 days ago');
  assert.equal(ago('2026-11-22T12:00:05Z', now), '0 seconds ago', 'clock skew never shows a negative age');
});
