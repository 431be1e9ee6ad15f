// Pull and push progress as the CLI shows it: plain lines when stdout is no terminal (no byte
// counts), per-layer lines redrawn in place with a bar on a terminal (ProgressBoard, pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bar, plainLine, ProgressBoard } from '../../src/cli/progress.js';
import type { DistributionMessage } from '../../src/api/distribution.js';

const A = 'aaaaaaaaaaaa';
const B = 'bbbbbbbbbbbb';
const pull: DistributionMessage[] = [
  { status: 'Pulling from 127.0.0.1:5000/team/app', id: '1.0' },
  { status: 'Already exists', id: A },
  { status: 'Downloading', id: B, progressDetail: { current: 0, total: 2_000_000 } },
  { status: 'Downloading', id: B, progressDetail: { current: 1_000_000, total: 2_000_000 } },
  { status: 'Download complete', id: B, progressDetail: { current: 2_000_000, total: 2_000_000 } },
  { status: 'Downloaded newer image for 127.0.0.1:5000/team/app:1.0' },
];

test('plain lines: one per step, byte-count updates left out (pull and push)', () => {
  assert.deepEqual(pull.map(plainLine).filter((l) => l !== undefined), [
    'Pulling from 127.0.0.1:5000/team/app',
    `${A}: Already exists`,
    `${B}: Download complete`,
    'Downloaded newer image for 127.0.0.1:5000/team/app:1.0',
  ].map((l, i) => (i === 0 ? `1.0: ${l}` : l)));
  const push: DistributionMessage[] = [
    { status: 'The push refers to repository [h:5000/team/app]' },
    { status: 'Pushing', id: A, progressDetail: { current: 0, total: 10 } },
    { status: 'Pushed', id: A, progressDetail: { current: 10, total: 10 } },
    { status: 'Layer already exists', id: B },
    { status: '1.0: digest: sha256:x size: 3' },
  ];
  assert.deepEqual(push.map(plainLine).filter((l) => l !== undefined), [
    'The push refers to repository [h:5000/team/app]', `${A}: Pushed`, `${B}: Layer already exists`, '1.0: digest: sha256:x size: 3',
  ]);
});

test('bars: filled in proportion, sizes in decimal units', () => {
  assert.equal(bar(0, 2_000_000, 10), '[>         ] 0B/2.0MB');
  assert.equal(bar(1_000_000, 2_000_000, 10), '[=====>    ] 1.0MB/2.0MB');
  assert.equal(bar(2_000_000, 2_000_000, 10), '[==========] 2.0MB/2.0MB');
  assert.equal(bar(5, 0, 4), '[====] 5B/0B');
});

test('terminal: a line per layer, redrawn in place (cursor up, clear line); a whole-image step starts a new block', () => {
  const board = new ProgressBoard();
  const out = pull.map((m) => board.render(m));
  assert.equal(out[0], 'Pulling from 127.0.0.1:5000/team/app 1.0\n');
  assert.equal(out[1], `\x1b[2K${A}: Already exists\n`);
  // The second layer appears under the first; both are redrawn from the block's top.
  assert.equal(out[2], `\x1b[1A\x1b[2K${A}: Already exists\n\x1b[2K${B}: Downloading ${bar(0, 2_000_000)}\n`);
  assert.equal(out[3], `\x1b[2A\x1b[2K${A}: Already exists\n\x1b[2K${B}: Downloading ${bar(1_000_000, 2_000_000)}\n`);
  assert.equal(out[4], `\x1b[2A\x1b[2K${A}: Already exists\n\x1b[2K${B}: Download complete\n`, 'no bar once complete');
  assert.equal(out[5], 'Downloaded newer image for 127.0.0.1:5000/team/app:1.0\n');
  // After a step, a layer line starts a block of its own (nothing above is overwritten).
  assert.equal(board.render({ status: 'Pushed', id: A }), `\x1b[2K${A}: Pushed\n`);
  assert.equal(board.render({ id: A }), '', 'a message without a status draws nothing');
});
