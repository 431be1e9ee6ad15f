// The least memory a linux image boots in: the kernel's load end from its ELF program headers, the
// initramfs packed and unpacked (several gzip members), and the margin.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { gunzippedSize, kernelEnd, minimumMemoryMiB, WORKING_MARGIN_MIB } from '../../src/build/linux/footprint.js';

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

test('gunzippedSize counts every member of a concatenated gzip file', async () => {
  const file = join(dir, 'initrd');
  writeFileSync(file, Buffer.concat([gzipSync(Buffer.alloc(300_000, 1)), gzipSync(Buffer.alloc(12_345, 2))]));
  assert.equal(await gunzippedSize(file), 312_345);
});

test('minimumMemoryMiB: kernel end + packed + unpacked initramfs, rounded up, plus the margin', () => {
  const MiB = 1 << 20;
  // The httpd example: 74 MiB kernel, 1.46 MiB initramfs unpacking to 3.1 MiB: 79 + 16 = 95
  // (measured: it boots at 88 MiB, panics at 80, prints nothing at 64).
  assert.equal(minimumMemoryMiB(74 * MiB, 1_531_260, 3_246_644), 79 + WORKING_MARGIN_MIB);
  assert.equal(minimumMemoryMiB(MiB, 0, 0), 1 + WORKING_MARGIN_MIB);
});
