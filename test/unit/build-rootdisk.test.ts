import test from 'node:test';
import assert from 'node:assert/strict';
import { mkfsErofsArgs, ROOTDISK_THRESHOLD, wantsRootDisk } from '../../src/build/linux/rootdisk.js';

test('rootfs: auto picks the root disk above the threshold; disk and initramfs as asked; never without a container tree', () => {
  const cases: [Parameters<typeof wantsRootDisk>, boolean][] = [
    [['auto', true, ROOTDISK_THRESHOLD + 1], true],
    [['auto', true, ROOTDISK_THRESHOLD], false],
    [['auto', false, ROOTDISK_THRESHOLD * 10], false],
    [['disk', true, 0], true],
    [['disk', false, 0], false],
    [['initramfs', true, ROOTDISK_THRESHOLD * 10], false],
  ];
  for (const [args, want] of cases) assert.equal(wantsRootDisk(...args), want, JSON.stringify(args));
});

test('mkfs.erofs: uncompressed, every file root\'s, a fixed time and UUID (same tree, same bytes)', () => {
  assert.deepEqual(mkfsErofsArgs('/t/root', '/c/disk.img'), ['--quiet', '--all-root', '-T0', '-U', '00000000-0000-0000-0000-000000000000', '-x-1', '/c/disk.img', '/t/root']);
});
