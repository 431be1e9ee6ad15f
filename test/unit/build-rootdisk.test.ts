import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRootDisk, mkfsErofsArgs, ROOTDISK_THRESHOLD, wantsRootDisk } from '../../src/build/linux/rootdisk.js';

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

test('mkfs.erofs: uncompressed, owners as the tree has them, a fixed time and UUID (same tree, same bytes)', () => {
  assert.deepEqual(mkfsErofsArgs('/t/root', '/c/disk.img'), ['--quiet', '-T0', '-U', '00000000-0000-0000-0000-000000000000', '-x-1', '/c/disk.img', '/t/root']);
});

test('the root disk keeps the tree\'s owners and modes, and the same tree gives the same bytes', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cunik-erofs-'));
  try {
    const tree = join(tmp, 'tree');
    mkdirSync(join(tree, 'var/log/svc'), { recursive: true });
    writeFileSync(join(tree, 'var/log/svc/log'), 'x');
    chownSync(join(tree, 'var/log/svc'), 33, 33);
    chmodSync(join(tree, 'var/log/svc'), 0o750);
    chownSync(join(tree, 'var/log/svc/log'), 33, 4);
    await makeRootDisk(tree, join(tmp, 'a.img'));
    await makeRootDisk(tree, join(tmp, 'b.img'));
    assert.deepEqual(readFileSync(join(tmp, 'a.img')), readFileSync(join(tmp, 'b.img')));
    const dir = execFileSync('dump.erofs', ['--path=/var/log/svc', join(tmp, 'a.img')], { encoding: 'utf8' });
    assert.match(dir, /Uid: 33\s+Gid: 33/);
    assert.match(dir, /Access: 0?750/);
    const file = execFileSync('dump.erofs', ['--path=/var/log/svc/log', join(tmp, 'a.img')], { encoding: 'utf8' });
    assert.match(file, /Uid: 33\s+Gid: 4/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
