// Disk images for the disk-booted families: qcow2 files made here by qemu-img (qemu-utils) are
// detected, read back byte for byte, and refused when QEMU would reach outside them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { osvDiskCmdline, withDiskReader } from '../../src/images/disk-image.js';
import { detectKernelFormatFile } from '../../src/images/kernel-format.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-disk-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const qemuImg = (...args: string[]): void => void execFileSync('qemu-img', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** A raw disk as OSv's build leaves it: an MBR, the command line at 512, data further on. */
function osvLikeRaw(name: string, cmdline: string): string {
  const raw = Buffer.alloc(2 * 1024 * 1024);
  raw[510] = 0x55;
  raw[511] = 0xaa;
  raw.write(`${cmdline}\0`, 512);
  for (let i = 0; i < 4096; i++) raw[1024 * 1024 + 3000 + i] = (i * 7) & 0xff; // across a 4 KiB cluster boundary
  const file = join(dir, name);
  writeFileSync(file, raw);
  return file;
}

const refusal = (file: string, re: RegExp): void =>
  assert.throws(() => detectKernelFormatFile(file), (e: unknown) => e instanceof CunikError && e.code === 'INVALID_ARGUMENT' && re.test(e.message));

test('qcow2 (v2, v3, small clusters, extended L2) is a disk; its guest bytes read back as the raw ones', () => {
  const raw = osvLikeRaw('usr.raw', '--rootfs=zfs /hello.so a b');
  const want = readFileSync(raw);
  for (const [name, opts] of [
    ['v3', 'cluster_size=65536'],
    ['v2', 'compat=0.10'],
    ['small', 'cluster_size=4096'],
    ['xl2', 'cluster_size=65536,extended_l2=on'],
  ] as const) {
    const q = join(dir, `usr-${name}.img`);
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', '-o', opts, raw, q);
    assert.deepEqual(detectKernelFormatFile(q), { boot: 'disk', diskFormat: 'qcow2' }, name);
    withDiskReader(q, 'qcow2', (read) => {
      assert.deepEqual(read(0, 1024), want.subarray(0, 1024), `${name}: the first sectors`);
      assert.deepEqual(read(1024 * 1024 + 2900, 4300), want.subarray(1024 * 1024 + 2900, 1024 * 1024 + 7200), `${name}: across clusters`);
      assert.deepEqual(read(1536 * 1024, 100), Buffer.alloc(100), `${name}: an unallocated cluster reads as zeros`);
    });
    assert.equal(osvDiskCmdline(q, 'qcow2'), '--rootfs=zfs /hello.so a b', name);
  }
  assert.deepEqual(detectKernelFormatFile(raw), { boot: 'disk', diskFormat: 'raw' });
  assert.equal(osvDiskCmdline(raw, 'raw'), '--rootfs=zfs /hello.so a b');
  assert.equal(osvDiskCmdline(osvLikeRaw('empty.raw', ''), 'raw'), undefined, 'no command line written');
});

test('qcow2 that would make QEMU open host files, or needs a secret, is refused at detection', () => {
  const base = osvLikeRaw('base.raw', '/x');
  const over = join(dir, 'over.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', base, over);
  refusal(over, /^not a usable qcow2 disk image: it names a backing file/);

  const ext = join(dir, 'ext.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${join(dir, 'ext.data')}`, ext, '1M');
  refusal(ext, /^not a usable qcow2 disk image: its data is in an external file/);

  // Encrypted: crypt_method (offset 32) set in a real qcow2; qemu-img's own LUKS create measures PBKDF
  // speed and fails on a loaded host ("Unable to get accurate CPU usage").
  const enc = join(dir, 'enc.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', enc, '1M');
  const header = readFileSync(enc);
  header.writeUInt32BE(2, 32); // QCOW_CRYPT_LUKS
  writeFileSync(enc, header);
  refusal(enc, /^not a usable qcow2 disk image: it is encrypted/);

  const bad = Buffer.alloc(512);
  bad.writeUInt32BE(0x514649fb, 0);
  bad.writeUInt32BE(9, 4);
  writeFileSync(join(dir, 'v9.qcow2'), bad);
  refusal(join(dir, 'v9.qcow2'), /version 9/);
});
