// Kernel-shaped buffers for the image tests, built here byte by byte (no toolchain needed).
// They carry exactly the headers the format detector looks at; they are not meant to run.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MULTIBOOT_MAGIC = 0x1badb002;
export const EM_386 = 3;
export const EM_X86_64 = 62;

export interface ElfOptions {
  is64?: boolean;
  machine?: number;
  /** Notes to include, e.g. { name: 'Xen', type: 18, desc: 4 bytes }. */
  notes?: { name: string; type: number; desc: Buffer }[];
  /** Where the notes are listed: a PT_NOTE program header (default) or a SHT_NOTE section. */
  noteVia?: 'phdr' | 'shdr';
  /** Multiboot header flags; undefined = no multiboot header. */
  multibootFlags?: number;
  /** Put the multiboot header at this file offset instead of right after the headers. */
  multibootOffset?: number;
  /** Break the multiboot checksum. */
  badChecksum?: boolean;
  /** Total size (padded with zeros). */
  size?: number;
}

function align(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1);
}

export function multibootHeader(flags: number, badChecksum = false): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(MULTIBOOT_MAGIC, 0);
  b.writeUInt32LE(flags >>> 0, 4);
  const sum = (-(MULTIBOOT_MAGIC + flags) >>> 0) + (badChecksum ? 1 : 0);
  b.writeUInt32LE(sum >>> 0, 8);
  return b;
}

function encodeNotes(notes: { name: string; type: number; desc: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const n of notes) {
    const name = Buffer.from(`${n.name}\0`, 'latin1');
    const hdr = Buffer.alloc(12);
    hdr.writeUInt32LE(name.length, 0);
    hdr.writeUInt32LE(n.desc.length, 4);
    hdr.writeUInt32LE(n.type, 8);
    const namePad = Buffer.alloc(align(name.length, 4) - name.length);
    const descPad = Buffer.alloc(align(n.desc.length, 4) - n.desc.length);
    parts.push(hdr, name, namePad, n.desc, descPad);
  }
  return Buffer.concat(parts);
}

export const PVH_NOTE = (): { name: string; type: number; desc: Buffer } => {
  const desc = Buffer.alloc(4);
  desc.writeUInt32LE(0x100000, 0);
  return { name: 'Xen', type: 18, desc };
};

/** A minimal little-endian ELF executable: header, one PT_LOAD, optional PT_NOTE / SHT_NOTE. */
export function buildElf(o: ElfOptions = {}): Buffer {
  const is64 = o.is64 ?? false;
  const machine = o.machine ?? (is64 ? EM_X86_64 : EM_386);
  const notes = o.notes ?? [];
  const via = o.noteVia ?? 'phdr';
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const phnum = 1 + (notes.length > 0 && via === 'phdr' ? 1 : 0);
  const phoff = ehsize;
  let off = phoff + phnum * phentsize;
  const mbOff = o.multibootFlags !== undefined ? (o.multibootOffset ?? align(off, 4)) : -1;
  if (mbOff >= 0 && o.multibootOffset === undefined) off = mbOff + 12;
  const noteData = encodeNotes(notes);
  const noteOff = align(off, 4);
  off = noteOff + noteData.length;
  const shnum = notes.length > 0 && via === 'shdr' ? 2 : 0;
  const shoff = shnum > 0 ? align(off, 8) : 0;
  off = shoff + shnum * shentsize;
  const size = Math.max(o.size ?? 0, off, mbOff >= 0 ? mbOff + 12 : 0, 256);
  const b = Buffer.alloc(size);

  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = is64 ? 2 : 1;
  b[5] = 1;
  b[6] = 1;
  b.writeUInt16LE(2, 16);
  b.writeUInt16LE(machine, 18);
  b.writeUInt32LE(1, 20);
  if (is64) {
    b.writeBigUInt64LE(0x100000n, 24);
    b.writeBigUInt64LE(BigInt(phoff), 32);
    b.writeBigUInt64LE(BigInt(shoff), 40);
    b.writeUInt16LE(ehsize, 52);
    b.writeUInt16LE(phentsize, 54);
    b.writeUInt16LE(phnum, 56);
    b.writeUInt16LE(shentsize, 58);
    b.writeUInt16LE(shnum, 60);
  } else {
    b.writeUInt32LE(0x100000, 24);
    b.writeUInt32LE(phoff, 28);
    b.writeUInt32LE(shoff, 32);
    b.writeUInt16LE(ehsize, 40);
    b.writeUInt16LE(phentsize, 42);
    b.writeUInt16LE(phnum, 44);
    b.writeUInt16LE(shentsize, 46);
    b.writeUInt16LE(shnum, 48);
  }
  const phdr = (i: number, type: number, offset: number, filesz: number, alignment: number) => {
    const p = phoff + i * phentsize;
    b.writeUInt32LE(type, p);
    if (is64) {
      b.writeUInt32LE(5, p + 4);
      b.writeBigUInt64LE(BigInt(offset), p + 8);
      b.writeBigUInt64LE(0x100000n, p + 16);
      b.writeBigUInt64LE(0x100000n, p + 24);
      b.writeBigUInt64LE(BigInt(filesz), p + 32);
      b.writeBigUInt64LE(BigInt(filesz), p + 40);
      b.writeBigUInt64LE(BigInt(alignment), p + 48);
    } else {
      b.writeUInt32LE(offset, p + 4);
      b.writeUInt32LE(0x100000, p + 8);
      b.writeUInt32LE(0x100000, p + 12);
      b.writeUInt32LE(filesz, p + 16);
      b.writeUInt32LE(filesz, p + 20);
      b.writeUInt32LE(5, p + 24);
      b.writeUInt32LE(alignment, p + 28);
    }
  };
  phdr(0, 1, 0, size, 0x1000);
  if (phnum === 2) phdr(1, 4, noteOff, noteData.length, 4);
  if (mbOff >= 0) multibootHeader(o.multibootFlags!, o.badChecksum).copy(b, mbOff);
  noteData.copy(b, noteOff);
  if (shnum > 0) {
    const s = shoff + shentsize; // section 1; section 0 stays all zero
    b.writeUInt32LE(7, s + 4);
    if (is64) {
      b.writeBigUInt64LE(BigInt(noteOff), s + 24);
      b.writeBigUInt64LE(BigInt(noteData.length), s + 32);
      b.writeBigUInt64LE(4n, s + 48);
    } else {
      b.writeUInt32LE(noteOff, s + 16);
      b.writeUInt32LE(noteData.length, s + 20);
      b.writeUInt32LE(4, s + 32);
    }
  }
  return b;
}

/** A 32-bit multiboot ELF, the shape of Cunik's test kernels. */
export function multibootKernel(extra = 0): Buffer {
  return buildElf({ multibootFlags: 0x3, size: 512 + extra });
}

export function pvhKernel(is64 = true): Buffer {
  return buildElf({ is64, notes: [PVH_NOTE()] });
}

export function bzImage(): Buffer {
  const b = Buffer.alloc(1024);
  b[510] = 0x55;
  b[511] = 0xaa;
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x020f, 0x206);
  return b;
}

export function mbrDisk(size = 4096): Buffer {
  const b = Buffer.alloc(size);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

export function garbage(size = 4096): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + 7) & 0xff;
  return b;
}

export interface TempDir {
  path: string;
  file(name: string, data: Buffer): string;
  cleanup(): void;
}

export function tempDir(prefix = 'cunik-images-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file(name, data) {
      const p = join(path, name);
      writeFileSync(p, data);
      return p;
    },
    cleanup() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}
