// `cunik import` per family: a Solo5 unikernel's manifest becomes its labels and declared volumes,
// OSv's build output (usr.img, qcow2 made here by qemu-img) imports alone or with its PVH loader,
// and files a family cannot boot are refused in one line with nothing stored.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { ImageStore } from '../../src/images/store.js';
import { kernels } from '../helpers/daemon.js';
import { mbrDisk, multibootKernel, pvhKernel, tempDir } from './images-fixtures.js';

const FAMILIES = ['generic', 'solo5', 'osv', 'nanos', 'rumprun'];

function setup() {
  const t = tempDir('cunik-import-fam-');
  return { t, store: new ImageStore(join(t.path, 'root'), { knownFamilies: FAMILIES }) };
}

/** An OSv-like disk: an MBR, the command line at byte 512 (imgedit.py setargs), as qcow2. */
function osvDisk(dir: string, cmdline: string): string {
  const raw = mbrDisk(1024 * 1024);
  raw.write(`${cmdline}\0`, 512);
  const rawFile = join(dir, 'usr.raw');
  execFileSync('sh', ['-c', 'cat > "$0"', rawFile], { input: raw });
  const qcow = join(dir, 'usr.img');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', rawFile, qcow]);
  return qcow;
}

const refused = (re: RegExp, field?: string) => (e: unknown): boolean =>
  e instanceof CunikError && e.code === 'INVALID_ARGUMENT' && re.test(e.message) && (field === undefined || e.field === field);

test('solo5: the manifest becomes org.cunik.solo5.devices, each block device a declared volume /NAME', async () => {
  const { t, store } = setup();
  try {
    const img = await store.importKernel(join(kernels, 'solo5-net-blk.elf'), 'svc', { family: 'solo5' });
    assert.equal(img.boot, 'multiboot');
    assert.equal(img.labels['org.cunik.solo5.devices'], 'net:service,block:storage');
    assert.equal(img.labels['org.cunik.volumes'], '["/storage"]');
    const none = await store.importKernel(join(kernels, 'solo5.elf'), 'hello', { family: 'solo5' });
    assert.equal(none.labels['org.cunik.solo5.devices'], '');
    assert.equal(none.labels['org.cunik.volumes'], undefined);
    await assert.rejects(store.importKernel(join(kernels, 'hello.elf'), 'x', { family: 'solo5' }), refused(/^not a Solo5 unikernel: its ELF has no Solo5 manifest/, 'kernel'));
  } finally {
    t.cleanup();
  }
});

test('osv: usr.img (qcow2) alone boots from its disk; its command line is read into a label', async () => {
  const { t, store } = setup();
  try {
    const disk = osvDisk(t.path, '--rootfs=rofs /hello');
    const img = await store.importKernel(disk, 'osv-hello', { family: 'osv' });
    assert.equal(img.boot, 'disk');
    assert.equal(img.labels['org.cunik.disk-format'], 'qcow2');
    assert.equal(img.labels['org.cunik.osv.cmdline'], '--rootfs=rofs /hello');
    const info = store.bootInfo('osv-hello');
    assert.equal(info.diskPath, info.kernelPath, 'a disk-only image: the disk is its one file');
    assert.deepEqual(readFileSync(info.diskPath!), readFileSync(disk));
    assert.equal(info.name, 'osv-hello');
  } finally {
    t.cleanup();
  }
});

test('osv fast path: the PVH loader and the disk in one upload (kernel bytes, then the disk)', async () => {
  const { t, store } = setup();
  try {
    const loader = pvhKernel();
    const disk = readFileSync(osvDisk(t.path, '/hello.so'));
    const upload = t.file('upload', Buffer.concat([loader, disk]));
    const img = await store.importKernel(upload, 'osv-fast', { family: 'osv', kernelSize: loader.length });
    assert.equal(img.boot, 'pvh');
    assert.equal(img.labels['org.cunik.disk-format'], 'qcow2');
    assert.equal(img.labels['org.cunik.osv.cmdline'], '/hello.so');
    const info = store.bootInfo('osv-fast');
    assert.deepEqual(readFileSync(info.kernelPath!), loader);
    assert.deepEqual(readFileSync(info.diskPath!), disk);
  } finally {
    t.cleanup();
  }
});

test('files a family cannot boot are refused and nothing is stored', async () => {
  const { t, store } = setup();
  try {
    const loader = pvhKernel();
    const disk = mbrDisk(8192);
    const cases: [() => Promise<unknown>, RegExp, string][] = [
      [() => store.importKernel(t.file('l', loader), 'x', { family: 'osv' }), /^a osv image needs its disk image: cunik import --family osv --disk DISK KERNEL NAME/, 'disk'],
      [() => store.importKernel(t.file('d', disk), 'x', { family: 'solo5' }), /^a solo5 image is a kernel, not a disk image/, 'kernel'],
      [() => store.importKernel(t.file('kd', Buffer.concat([multibootKernel(), disk])), 'x', { family: 'generic', kernelSize: multibootKernel().length }), /^a generic image has no disk image/, 'disk'],
      [() => store.importKernel(t.file('dd', Buffer.concat([disk, disk])), 'x', { family: 'nanos', kernelSize: disk.length }), /the kernel given with a disk image is itself a disk image/, 'kernel'],
      [() => store.importKernel(t.file('kk', Buffer.concat([loader, loader])), 'x', { family: 'nanos', kernelSize: loader.length }), /the disk image is not a disk image/, 'disk'],
      [() => store.importKernel(t.file('big', loader), 'x', { family: 'osv', kernelSize: loader.length }), /kernelSize must be between 1 and/, 'kernelSize'],
    ];
    for (const [run, re, field] of cases) await assert.rejects(run(), refused(re, field));
    assert.equal(store.list().length, 0);
    assert.deepEqual(readdirSync(join(t.path, 'root', 'images', 'tmp')), [], 'no staging left behind');
  } finally {
    t.cleanup();
  }
});
