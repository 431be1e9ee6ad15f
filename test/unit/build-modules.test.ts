// Kernel module resolution: dependencies first, softdeps through aliases, built-ins skipped.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BASE_MODULES, ModuleIndex, selectModules, VOLUME_MODULES } from '../../src/build/linux/modules.js';
import { ROOTDISK_MODULES } from '../../src/build/linux/rootdisk.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-mod-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('a fake modules dir: load order, softdep aliases (generic preferred), built-ins, unknown names', () => {
  writeFileSync(join(tmp, 'modules.dep'), [
    'kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/jbd2/jbd2.ko',
    'kernel/fs/jbd2/jbd2.ko:',
    'kernel/lib/crc16.ko:',
    'kernel/crypto/crc32c_generic.ko:',
    'kernel/arch/x86/crypto/crc32c-intel.ko:',
    'kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko',
    '',
  ].join('\n'));
  writeFileSync(join(tmp, 'modules.softdep'), '# comment\nsoftdep ext4 pre: crypto-crc32c\n');
  writeFileSync(join(tmp, 'modules.alias'), 'alias crypto-crc32c crc32c_intel\nalias crypto-crc32c crc32c_generic\nalias pci:v* virtio_net\n');
  writeFileSync(join(tmp, 'modules.builtin'), 'kernel/drivers/virtio/virtio.ko\n');
  const idx = new ModuleIndex(tmp);
  assert.deepEqual(idx.resolve(['ext4']).map((m) => m.name), ['crc32c_generic', 'crc16', 'jbd2', 'ext4']);
  assert.deepEqual(idx.resolve(['virtio-net', 'virtio_net']).map((m) => m.rel), ['kernel/drivers/net/virtio_net.ko']);
  assert.equal(idx.resolve(['ext4'])[3]!.path, join(tmp, 'kernel/fs/ext4/ext4.ko'));
  assert.throws(() => idx.resolve(['nosuch']), /kernel module nosuch is not in/);
});

test("Debian's modules: what a linux image loads exists, dependencies first", () => {
  const dirs = existsSync('/lib/modules') ? readdirSync('/lib/modules').filter((d) => !d.includes('cloud') && existsSync(join('/lib/modules', d, 'modules.dep'))) : [];
  assert.ok(dirs.length > 0, 'no /lib/modules/*/modules.dep: apt-get install linux-image-amd64 (setup.sh installs it)');
  const mods = new ModuleIndex(join('/lib/modules', dirs[0]!)).resolve([...BASE_MODULES, ...VOLUME_MODULES.share, ...VOLUME_MODULES.block]);
  const names = mods.map((m) => m.name);
  for (const want of ['virtio_mmio', 'virtio_pci', 'virtio_net', '9p', '9pnet_virtio', 'virtio_blk', 'ext4', 'virtio', 'virtio_ring', 'jbd2']) {
    assert.ok(names.includes(want), `${want} in ${names.join(' ')}`);
  }
  assert.ok(names.indexOf('virtio_ring') < names.indexOf('virtio'));
  assert.ok(names.indexOf('virtio') < names.indexOf('virtio_mmio'));
  assert.ok(names.indexOf('9pnet') < names.indexOf('9pnet_virtio'));
  assert.ok(names.indexOf('jbd2') < names.indexOf('ext4'));
  for (const m of mods) assert.ok(existsSync(m.path), m.path);
});

test('selectModules: a kernel without 9p (Debian cloud) keeps its other modules and says which volume kinds it can mount', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-mod-cloud-'));
  try {
    // The shape of Debian's cloud kernel: virtio and virtio_blk modules, ext4 built in, no 9p.
    writeFileSync(join(dir, 'modules.dep'), [
      'kernel/drivers/virtio/virtio_mmio.ko:',
      'kernel/drivers/virtio/virtio_pci.ko:',
      'kernel/drivers/net/virtio_net.ko: kernel/net/core/failover.ko',
      'kernel/net/core/failover.ko:',
      'kernel/drivers/block/virtio_blk.ko:',
      'kernel/fs/erofs/erofs.ko:',
      'kernel/fs/overlayfs/overlay.ko:',
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'modules.builtin'), 'kernel/fs/ext4/ext4.ko\nkernel/drivers/input/evdev.ko\nkernel/drivers/acpi/button.ko\n');
    const idx = new ModuleIndex(dir);
    const plain = selectModules(idx, BASE_MODULES);
    assert.deepEqual(plain.volumeKinds, ['block']);
    assert.deepEqual(plain.files.map((m) => m.name), ['virtio_mmio', 'virtio_pci', 'failover', 'virtio_net']);
    assert.deepEqual(plain.onDemand.map((m) => m.name), ['virtio_blk'], 'ext4 is built in; 9p is left out, not the whole set');
    const disk = selectModules(idx, [...BASE_MODULES, ...ROOTDISK_MODULES]);
    assert.ok(disk.files.some((m) => m.name === 'virtio_blk'));
    assert.deepEqual(disk.onDemand, [], 'virtio_blk is already loaded at boot');
    // A module the image needs at boot still fails the build.
    assert.throws(() => selectModules(idx, [...BASE_MODULES, 'squashfs']), /kernel module squashfs is not in/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("selectModules on Debian's generic kernel: both volume kinds", () => {
  const dirs = readdirSync('/lib/modules').filter((d) => /^\d.*-amd64$/.test(d) && !d.includes('cloud') && existsSync(join('/lib/modules', d, 'modules.dep')));
  const chosen = selectModules(new ModuleIndex(join('/lib/modules', dirs[0]!)), BASE_MODULES);
  assert.deepEqual(chosen.volumeKinds, ['share', 'block']);
  for (const want of ['9p', '9pnet_virtio', 'virtio_blk', 'ext4']) assert.ok(chosen.onDemand.some((m) => m.name === want), want);
});
