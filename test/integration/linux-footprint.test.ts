// The memory minimum of a linux image counts its tree as the guest's kernel holds it unpacked
// (build/linux/footprint.ts): 8000 files of 100 bytes are 2 MiB of archive but about 39 MiB in
// whole pages, inodes and dentries. By the archive's bytes the minimum came out near 92 MiB, where
// the kernel's unpacking fails ("Initramfs unpacking failed: write error") and the app used to run
// on a partial root; at the minimum the build records now, every file is there.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { linuxGuestMissing, tscLabelLines } from '../helpers/linux-guest.js';

const FILES = 8000;
const missing = linuxGuestMissing().join('; ');

let d: TestDaemon;
let ctx: string;

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-footprint-'));
  mkdirSync(join(ctx, 'many'));
  for (let i = 0; i < FILES; i++) writeFileSync(join(ctx, 'many', `f${i}`), Buffer.alloc(100, 0x61));
  writeFileSync(join(ctx, 'Cunikfile'), [
    'family: linux',
    'app: /bin/busybox',
    'files:',
    '  - { src: many, dst: /many }',
    'args: [sh, -c, "ls /many | wc -l; cat /many/f7999 | wc -c"]',
    ...tscLabelLines(),
    '',
  ].join('\n'));
  d = await startDaemon();
});
after(async () => {
  await d?.stop();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test('an image of many small files boots whole at the memory minimum its build records', async () => {
  const b = await cli(['build', '-t', 'manyfiles', ctx], { socket: d.socket });
  assert.equal(b.code, 0, b.stderr + b.stdout);
  const image = await d.client.inspectImage('manyfiles');
  const min = Number(image.labels?.['org.cunik.memory.min']);
  // The kernel (74 MiB), then at least the files' pages and entries: 8000 * 5 KiB = 39 MiB.
  assert.ok(min >= 74 + 39, `memory minimum ${min} MiB`);
  const run = await cli(['run', '--rm', '-m', `${min}m`, 'manyfiles'], { socket: d.socket });
  assert.doesNotMatch(run.stdout, /Initramfs unpacking failed|root file system is incomplete/, run.stdout);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(run.stdout, new RegExp(`^\\s*${FILES}\\r?$`, 'm'));
  assert.match(run.stdout, /^\s*100\r?$/m);
});
