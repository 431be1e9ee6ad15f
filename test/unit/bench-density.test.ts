// The density benchmark's round order: both sides equally often, and as often first as second in
// each half, so a host that drifts during the run weighs on both alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { phaseOrder } from '../../bench/density.js';

test('phaseOrder: ABBA repeated, the same number of rounds for each side', () => {
  const letters = (n: number): string => phaseOrder(n).map((s) => (s === 'daemon' ? 'A' : 'B')).join('');
  assert.equal(letters(1), 'AB');
  assert.equal(letters(3), 'ABBAAB');
  assert.equal(letters(4), 'ABBAABBA');
  for (const n of [1, 2, 3, 4, 5]) {
    const order = phaseOrder(n);
    assert.equal(order.filter((s) => s === 'daemon').length, n);
    assert.equal(order.filter((s) => s === 'bare').length, n);
  }
});
