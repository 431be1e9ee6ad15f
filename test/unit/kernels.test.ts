// Checks the test kernels built by scripts/build-kernels.sh (run by `npm run build`)
// without booting them: ELF32 shape, multiboot v1 header, PVH (Xen) ELF note.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/unit/kernels.test.js -> repo root
const root = fileURLToPath(new URL('../../../', import.meta.url));
const kernelDir = join(root, 'build', 'kernels');

const MULTIBOOT_MAGIC = 0x1badb002;
const MULTIBOOT_SEARCH = 8192;
const PT_LOAD = 1;
const PT_NOTE = 4;
const XEN_ELFNOTE_PHYS32_ENTRY = 18;
const EM_386 = 3;

interface Elf32 {
  buf: Buffer;
  entry: number;
  phdrs: { type: number; offset: number; vaddr: number; paddr: number; filesz: number; memsz: number; align: number }[];
}

function load(name: string): Buffer {
  const file = join(kernelDir, name);
  assert.ok(existsSync(file), `${file} is missing: run \`npm run build\` (scripts/build-kernels.sh)`);
  return readFileSync(file);
}

function parseElf32(buf: Buffer): Elf32 {
  assert.ok(buf.length >= 52, 'file too short for an ELF header');
  assert.deepEqual([...buf.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF magic');
  assert.equal(buf[4], 1, 'EI_CLASS must be ELFCLASS32');
  assert.equal(buf[5], 1, 'EI_DATA must be little-endian');
  assert.equal(buf.readUInt16LE(16), 2, 'e_type must be ET_EXEC');
  assert.equal(buf.readUInt16LE(18), EM_386, 'e_machine must be EM_386');
  const entry = buf.readUInt32LE(24);
  const phoff = buf.readUInt32LE(28);
  const phentsize = buf.readUInt16LE(42);
  const phnum = buf.readUInt16LE(44);
  assert.ok(phentsize >= 32 && phoff + phentsize * phnum <= buf.length, 'program headers in range');
  const phdrs = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    phdrs.push({
      type: buf.readUInt32LE(o),
      offset: buf.readUInt32LE(o + 4),
      vaddr: buf.readUInt32LE(o + 8),
      paddr: buf.readUInt32LE(o + 12),
      filesz: buf.readUInt32LE(o + 16),
      memsz: buf.readUInt32LE(o + 20),
      align: buf.readUInt32LE(o + 28),
    });
  }
  return { buf, entry, phdrs };
}

/** Offset of a valid multiboot v1 header (magic, flags, checksum) in the first 8 KiB, or -1. */
function findMultiboot(buf: Buffer): number {
  const end = Math.min(buf.length, MULTIBOOT_SEARCH) - 12;
  for (let o = 0; o <= end; o += 4) {
    if (buf.readUInt32LE(o) !== MULTIBOOT_MAGIC) continue;
    const flags = buf.readUInt32LE(o + 4);
    const checksum = buf.readUInt32LE(o + 8);
    if (((MULTIBOOT_MAGIC + flags + checksum) >>> 0) === 0) return o;
  }
  return -1;
}

/** 32-bit entry addresses of all XEN_ELFNOTE_PHYS32_ENTRY notes in PT_NOTE segments. */
function pvhEntries(elf: Elf32): number[] {
  const found: number[] = [];
  for (const ph of elf.phdrs) {
    if (ph.type !== PT_NOTE) continue;
    const align = Math.max(ph.align, 4);
    const up = (n: number) => Math.ceil(n / align) * align;
    let o = ph.offset;
    const end = ph.offset + ph.filesz;
    while (o + 12 <= end) {
      const namesz = elf.buf.readUInt32LE(o);
      const descsz = elf.buf.readUInt32LE(o + 4);
      const type = elf.buf.readUInt32LE(o + 8);
      const name = elf.buf.subarray(o + 12, o + 12 + namesz).toString('latin1');
      const desc = o + 12 + up(namesz);
      if (name === 'Xen\0' && type === XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4) {
        found.push(elf.buf.readUInt32LE(desc));
      }
      o = desc + up(descsz);
    }
  }
  return found;
}

function inLoadSegment(elf: Elf32, addr: number): boolean {
  return elf.phdrs.some((ph) => ph.type === PT_LOAD && addr >= ph.paddr && addr < ph.paddr + ph.filesz);
}

describe('test kernels', () => {
  for (const name of ['hello.elf', 'probe.elf']) {
    it(`${name} is an ELF32 loaded at 1 MiB with a multiboot header and a PVH note`, () => {
      const elf = parseElf32(load(name));
      const mb = findMultiboot(elf.buf);
      assert.ok(mb >= 0, 'valid multiboot header within the first 8 KiB');
      assert.equal(mb % 4, 0);
      const flags = elf.buf.readUInt32LE(mb + 4);
      assert.equal(flags & 0x10000, 0, 'ELF kernel: no a.out kludge');
      assert.equal(flags & 0x4, 0, 'no video mode request (QEMU rejects it)');
      const entries = pvhEntries(elf);
      assert.equal(entries.length, 1, 'exactly one XEN_ELFNOTE_PHYS32_ENTRY note');
      assert.equal(entries[0], elf.entry, 'PVH entry is the ELF entry point');
      assert.ok(inLoadSegment(elf, elf.entry), 'entry point inside a loaded segment');
      const loads = elf.phdrs.filter((ph) => ph.type === PT_LOAD && ph.memsz > 0);
      assert.ok(loads.length > 0);
      assert.equal(Math.min(...loads.map((ph) => ph.paddr)), 0x100000, 'loaded at 1 MiB');
    });
  }

  it('hello-pvh.elf has a PVH note and no multiboot header', () => {
    const elf = parseElf32(load('hello-pvh.elf'));
    assert.equal(findMultiboot(elf.buf), -1, 'no multiboot header (QEMU would prefer it over PVH)');
    const entries = pvhEntries(elf);
    assert.equal(entries.length, 1);
    assert.equal(entries[0], elf.entry);
    assert.ok(inLoadSegment(elf, elf.entry));
  });

  it('hello.elf carries the strings the integration tests look for', () => {
    const text = load('hello.elf').toString('latin1');
    for (const s of ['Hello from the Cunik test kernel', 'cmdline: ', 'arg: ', 'exit: ', 'ready', 'exit=']) {
      assert.ok(text.includes(s), `missing ${JSON.stringify(s)}`);
    }
    assert.ok(load('probe.elf').toString('latin1').includes('probe: ok'));
  });
});
