// images/history.ts: an image config's history paired with its layers, newest first, and the
// plain per-layer history of configs without one (or with one that does not match).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageHistory } from '../../src/images/history.js';
import type { ImageConfig } from '../../src/images/oci.js';

const layer = (n: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${String(n).repeat(64)}`, size: n * 100 });
const config = (history: unknown): ImageConfig => ({ created: '2026-01-02T03:04:05Z', architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, history } as ImageConfig);

test('imageHistory: steps newest first, each non-empty one paired with its layer in order', () => {
  const h = imageHistory(config([
    { created: '2026-01-01T00:00:00Z', created_by: 'kernel', comment: 'a' },
    { created_by: 'ENV x=1', empty_layer: true },
    { created: '2026-01-01T00:00:02Z', created_by: 'boot.json' },
  ]), [layer(1), layer(2)]);
  assert.deepEqual(h, [
    { created: '2026-01-01T00:00:02Z', createdBy: 'boot.json', comment: '', size: 200, layer: layer(2).digest },
    { created: '2026-01-02T03:04:05Z', createdBy: 'ENV x=1', comment: '', size: 0 },
    { created: '2026-01-01T00:00:00Z', createdBy: 'kernel', comment: 'a', size: 100, layer: layer(1).digest },
  ]);
});

test('imageHistory: no history, a mismatched one, or one of the wrong types gives a plain step per layer', () => {
  const plain = [
    { created: '2026-01-02T03:04:05Z', createdBy: '', comment: '', size: 200, layer: layer(2).digest },
    { created: '2026-01-02T03:04:05Z', createdBy: '', comment: '', size: 100, layer: layer(1).digest },
  ];
  const cases: [string, unknown][] = [
    ['absent', undefined],
    ['empty', []],
    ['one step for two layers', [{ created_by: 'x' }]],
    ['not an array', { created_by: 'x' }],
    ['entries that are not objects', [null, 7]],
  ];
  for (const [name, history] of cases) assert.deepEqual(imageHistory(config(history), [layer(1), layer(2)]), plain, name);
});

test('imageHistory: fields of the wrong type are read as absent', () => {
  const [h] = imageHistory(config([{ created: 5, created_by: ['rm'], comment: {} }]), [layer(3)]);
  assert.deepEqual(h, { created: '2026-01-02T03:04:05Z', createdBy: '', comment: '', size: 300, layer: layer(3).digest });
});
