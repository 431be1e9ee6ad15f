// The least memory a linux image boots in: the kernel's load end from its ELF program headers, the
// initramfs packed, its tree as the kernel holds it unpacked, the memory map, and the margin.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ENTRY_OVERHEAD, kernelEnd, minimumMemoryMiB, residentBytes, WORKING_MARGIN_MIB } from '../../src/build/linux/footprint.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-footprint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An ELF64 header and program headers: [type, paddr, memsz] each. */
function elf(phdrs: [number, bigint, bigint][]): Buffer {
  const phoff = 64;
  const buf = Buffer.alloc(phoff + 56 * phdrs.length);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // little-endian
  buf.writeBigUInt64LE(BigInt(phoff), 0x20);
  buf.writeUInt16LE(56, 0x36);
  buf.writeUInt16LE(phdrs.length, 0x38);
  phdrs.forEach(([type, paddr, memsz], i) => {
    const at = phoff + 56 * i;
    buf.writeUInt32LE(type, at);
    buf.writeBigUInt64LE(paddr, at + 0x18);
    buf.writeBigUInt64LE(memsz, at + 0x28);
  });
  return buf;
}

test('kernelEnd: the highest end of a PT_LOAD segment (Debian 6.1: 0x3079000 + 0x1987000); other segments ignored', () => {
  const file = join(dir, 'vmlinux');
  writeFileSync(file, elf([[1, 0x1000000n, 0x18ea9f0n], [1, 0x3079000n, 0x1987000n], [4, 0x9000000n, 0x1000n], [1, 0x2a00000n, 0x644000n]]));
  assert.equal(kernelEnd(file), 0x4a00000);
  writeFileSync(file, 'not an elf at all, just text long enough for a header....................');
  assert.throws(() => kernelEnd(file), /not a 64-bit ELF kernel/);
});

test('residentBytes: whole pages for each file and symlink, an inode and dentry for every entry', async () => {
  const file = join(dir, 'data');
  writeFileSync(file, Buffer.alloc(4097));
  const entries = [
    { type: 'dir' as const, name: '/etc' },
    { type: 'file' as const, name: '/etc/a', source: Buffer.from('x') },
    { type: 'file' as const, name: '/etc/empty', source: Buffer.alloc(0) },
    { type: 'file' as const, name: '/data', source: file },
    { type: 'symlink' as const, name: '/bin', target: 'usr/bin' },
  ];
  assert.equal(await residentBytes(entries), 5 * ENTRY_OVERHEAD + 4096 + 0 + 8192 + 4096);
  // Many small files: their pages, not their bytes (20000 files of 100 bytes: 5 MiB of archive).
  const small = Array.from({ length: 20000 }, (_, i) => ({ type: 'file' as const, name: `/d/${i}`, source: Buffer.alloc(100) }));
  assert.equal(await residentBytes(small), 20000 * (4096 + ENTRY_OVERHEAD));
});

test('minimumMemoryMiB: kernel end + packed initramfs + resident tree, with the memory map (1/64), rounded up, plus the margin', () => {
  const MiB = 1 << 20;
  // The httpd example: 74 MiB kernel, 1.46 MiB initramfs, 4 MiB resident: 79.5 * 65/64 = 80.7 -> 81 + 16.
  assert.equal(minimumMemoryMiB(74 * MiB, 1_531_260, 4 * MiB), 81 + WORKING_MARGIN_MIB);
  assert.equal(minimumMemoryMiB(64 * MiB, 0, 0), 65 + WORKING_MARGIN_MIB);
});
