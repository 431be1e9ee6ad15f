import assert from 'node:assert/strict';
import test from 'node:test';
import { mapLimit } from '../../src/util/map-limit.js';

test('mapLimit: results in order, never more than the limit in flight, the first failure rejects', async () => {
  let inFlight = 0;
  let most = 0;
  const items = Array.from({ length: 100 }, (_, i) => i);
  const out = await mapLimit(items, 7, async (n) => {
    most = Math.max(most, ++inFlight);
    await new Promise<void>((r) => setImmediate(r));
    inFlight--;
    return n * 2;
  });
  assert.deepEqual(out, items.map((n) => n * 2));
  assert.equal(most, 7);
  assert.deepEqual(await mapLimit([], 4, async () => 1), []);
  await assert.rejects(mapLimit([1, 2, 3], 2, async (n) => { if (n === 2) throw new Error('no 2'); return n; }), /no 2/);
});
