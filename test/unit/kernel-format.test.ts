import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectKernelFormat, detectKernelFormatFile } from '../../src/images/kernel-format.js';
import { CunikError } from '../../src/errors.js';
import {
  buildElf, bzImage, garbage, mbrDisk, multibootHeader, multibootKernel, pvhKernel, PVH_NOTE, EM_X86_64, tempDir,
} from './images-fixtures.js';

const flat = (flags: number, at = 64): Buffer => {
  const b = Buffer.alloc(8192);
  multibootHeader(flags).copy(b, at);
  return b;
};

const accepted: [string, () => Buffer, string][] = [
  ['32-bit multiboot ELF', () => multibootKernel(), 'multiboot'],
  ['multiboot header at the last aligned slot', () => buildElf({ multibootFlags: 3, multibootOffset: 8192 - 12, size: 8192 }), 'multiboot'],
  ['flat binary with multiboot address fields (a.out kludge)', () => flat(0x10003), 'multiboot'],
  ['x86-64 ELF with multiboot address fields', () => buildElf({ is64: true, multibootFlags: 0x10003 }), 'multiboot'],
  ['multiboot preferred over PVH when both exist', () => buildElf({ multibootFlags: 3, notes: [PVH_NOTE()] }), 'multiboot'],
  ['64-bit ELF with a PVH note (PT_NOTE)', () => pvhKernel(true), 'pvh'],
  ['32-bit ELF with a PVH note (PT_NOTE)', () => pvhKernel(false), 'pvh'],
  ['64-bit ELF with a PVH note in a SHT_NOTE section only', () => buildElf({ is64: true, notes: [PVH_NOTE()], noteVia: 'shdr' }), 'pvh'],
  ['PVH note after other notes', () => buildElf({ is64: true, notes: [{ name: 'GNU', type: 3, desc: Buffer.alloc(20, 1) }, { name: 'Xen', type: 5, desc: Buffer.from('xen-3.0\0') }, PVH_NOTE()] }), 'pvh'],
  ['Linux bzImage (HdrS at 0x202)', () => bzImage(), 'linux'],
  ['raw disk with an MBR', () => mbrDisk(), 'disk:raw'],
];

for (const [name, make, boot] of accepted) {
  test(`detectKernelFormat: ${name} → ${boot}`, () => {
    const [kind, diskFormat] = boot.split(':');
    assert.deepEqual(detectKernelFormat(make()), diskFormat !== undefined ? { boot: kind, diskFormat } : { boot });
  });
}

const refused: [string, () => Buffer, RegExp][] = [
  ['empty file', () => Buffer.alloc(0), /^not a bootable kernel: file is empty$/],
  ['garbage', () => garbage(), /^not a bootable kernel: not an ELF file, no Linux boot header, no MBR and no qcow2 header$/],
  ['tiny file', () => Buffer.from('hi'), /not an ELF file, no Linux boot header, no MBR and no qcow2 header/],
  ['32-bit ELF without multiboot or PVH', () => buildElf(), /^not a bootable kernel: ELF has no multiboot header and no PVH note$/],
  ['64-bit ELF without PVH note', () => buildElf({ is64: true }), /^not a bootable kernel: 64-bit ELF without a PVH note/],
  ['64-bit ELF with a Xen note of another type', () => buildElf({ is64: true, notes: [{ name: 'Xen', type: 5, desc: Buffer.from('xen\0') }] }), /64-bit ELF without a PVH note/],
  ['x86-64 ELF with a multiboot header but no address fields', () => buildElf({ is64: true, multibootFlags: 3 }), /x86-64 ELF with a multiboot header; QEMU loads only 32-bit multiboot ELFs/],
  ['x86-64 ELF with multiboot and PVH (QEMU tries multiboot and fails)', () => buildElf({ is64: true, machine: EM_X86_64, multibootFlags: 3, notes: [PVH_NOTE()] }), /x86-64 ELF with a multiboot header/],
  ['multiboot header with a bad checksum', () => buildElf({ multibootFlags: 3, badChecksum: true }), /ELF has no multiboot header and no PVH note/],
  ['multiboot header beyond 8192 bytes', () => buildElf({ multibootFlags: 3, multibootOffset: 8192, size: 9000 }), /ELF has no multiboot header/],
  ['flat binary with multiboot but no address fields', () => flat(0x3), /multiboot header without address fields \(flag bit 16\) in a file that is not an ELF/],
  ['big-endian ELF', () => { const b = buildElf(); b[5] = 2; return b; }, /big-endian ELF/],
];

for (const [name, make, re] of refused) {
  test(`detectKernelFormat refuses ${name}`, () => {
    assert.throws(() => detectKernelFormat(make()), (err: unknown) => {
      assert.ok(err instanceof CunikError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, re);
      return true;
    });
  });
}

test('detectKernelFormatFile reads only what it needs and agrees with the buffer version', () => {
  const dir = tempDir();
  try {
    // A PVH note far into a large file.
    const big = Buffer.alloc(3 << 20);
    const elf = buildElf({ is64: true });
    elf.copy(big);
    assert.deepEqual(detectKernelFormatFile(dir.file('mb', multibootKernel())), { boot: 'multiboot' });
    assert.deepEqual(detectKernelFormatFile(dir.file('pvh', pvhKernel())), { boot: 'pvh' });
    assert.deepEqual(detectKernelFormatFile(dir.file('bz', bzImage())), { boot: 'linux' });
    assert.throws(() => detectKernelFormatFile(dir.file('big', big)), /64-bit ELF without a PVH note/);
    assert.throws(() => detectKernelFormatFile(dir.file('empty', Buffer.alloc(0))), /file is empty/);
  } finally {
    dir.cleanup();
  }
});
