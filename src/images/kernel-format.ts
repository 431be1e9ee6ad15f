// Which boot protocol a kernel file speaks, decided the way QEMU's x86 direct kernel loader
// (hw/i386/x86-common.c x86_load_linux, hw/i386/multiboot.c, hw/i386/x86.c pvh_load_elfboot)
// decides it:
//   1. "HdrS" at 0x202 → Linux boot protocol (bzImage). QEMU checks this first.
//   2. A multiboot v1 header (magic 0x1BADB002, 4-byte aligned, in the first 8192 bytes,
//      magic + flags + checksum == 0 mod 2^32) → multiboot. QEMU tries it before PVH, so a
//      kernel with both boots through multiboot. Without the address fields (flag bit 16)
//      QEMU loads the file as an ELF and refuses an x86-64 one ("Cannot load x86-64 image").
//   3. An ELF (32- or 64-bit) with a note named "Xen" of type 18 (XEN_ELFNOTE_PHYS32_ENTRY)
//      in a PT_NOTE segment or SHT_NOTE section → PVH.
//   4. 0x55 0xAA at offset 510 → a raw disk image with an MBR (booted by the firmware).
//   5. "QFI\xfb" at 0 → a qcow2 disk image (OSv's usr.img), checked by disk-image.ts (no backing
//      or external data file, not encrypted). QEMU boots it from the disk like a raw one.
// Anything else is refused with the reason.

import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { invalid } from '../errors.js';
import { parseQcow2Header, QCOW2_MAGIC, type DiskFormat } from './disk-image.js';
import { EM_X86_64, isElf, num64, phdrSize, programHeaders, PT_NOTE, readElfHeader, type ElfHeader } from '../util/elf.js';

export type BootProtocol = 'multiboot' | 'pvh' | 'linux' | 'disk';
export const BOOT_PROTOCOLS: readonly BootProtocol[] = ['multiboot', 'pvh', 'linux', 'disk'];

export interface KernelFormat {
  boot: BootProtocol;
  /** For boot 'disk': the image's format. */
  diskFormat?: DiskFormat;
}

/** Reads `length` bytes at `offset`; may return fewer at the end of the file. */
export type ByteReader = (offset: number, length: number) => Buffer;

const MULTIBOOT_MAGIC = 0x1badb002;
const MULTIBOOT_SEARCH = 8192;
const MULTIBOOT_AOUT_KLUDGE = 0x00010000;
const SHT_NOTE = 7;
const XEN_ELFNOTE_PHYS32_ENTRY = 18;
/** Upper bound on one note segment/section we read; real ones are a few KiB. */
const MAX_NOTE_BYTES = 1 << 20;
const MAX_HEADERS = 4096;

const fail = (why: string): never => {
  throw invalid(`not a bootable kernel: ${why}`, 'kernel');
};

/** Detect the boot protocol of a kernel held in memory. Throws invalid(...) with the reason. */
export function detectKernelFormat(buf: Buffer): KernelFormat {
  return detect((off, len) => buf.subarray(Math.min(off, buf.length), Math.min(off + len, buf.length)), buf.length);
}

/** Same as detectKernelFormat, reading only the parts of the file it needs. */
export function detectKernelFormatFile(path: string): KernelFormat {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const read: ByteReader = (offset, length) => {
      const n = Math.max(0, Math.min(length, size - offset));
      const out = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, out, got, n - got, offset + got);
        if (r === 0) break;
        got += r;
      }
      return out.subarray(0, got);
    };
    return detect(read, size);
  } finally {
    closeSync(fd);
  }
}

export function detect(read: ByteReader, size: number): KernelFormat {
  if (size === 0) fail('file is empty');
  const head = read(0, MULTIBOOT_SEARCH);

  if (head.length >= 0x206 && head.toString('latin1', 0x202, 0x206) === 'HdrS') return { boot: 'linux' };

  const elf = readElfHeader(head, fail);
  const mbFlags = findMultibootFlags(head);
  if (mbFlags !== undefined) {
    if (mbFlags & MULTIBOOT_AOUT_KLUDGE) return { boot: 'multiboot' };
    if (!elf) fail('multiboot header without address fields (flag bit 16) in a file that is not an ELF');
    if (elf!.machine === EM_X86_64) {
      fail('x86-64 ELF with a multiboot header; QEMU loads only 32-bit multiboot ELFs (convert with objcopy -O elf32-i386, or drop the multiboot header and use a PVH note)');
    }
    return { boot: 'multiboot' };
  }

  if (elf) {
    if (hasPvhNote(read, size, elf)) return { boot: 'pvh' };
    if (elf.is64) fail('64-bit ELF without a PVH note (XEN_ELFNOTE_PHYS32_ENTRY) and without a multiboot header');
    fail('ELF has no multiboot header and no PVH note');
  }

  if (head.length >= 4 && head.readUInt32BE(0) === QCOW2_MAGIC) {
    parseQcow2Header(head);
    return { boot: 'disk', diskFormat: 'qcow2' };
  }
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) return { boot: 'disk', diskFormat: 'raw' };
  if (isElf(head)) fail('truncated or unsupported ELF header');
  return fail('not an ELF file, no Linux boot header, no MBR and no qcow2 header');
}

function findMultibootFlags(head: Buffer): number | undefined {
  for (let i = 0; i + 12 <= head.length && i < MULTIBOOT_SEARCH; i += 4) {
    if (head.readUInt32LE(i) !== MULTIBOOT_MAGIC) continue;
    const flags = head.readUInt32LE(i + 4);
    const checksum = head.readUInt32LE(i + 8);
    if (((MULTIBOOT_MAGIC + flags + checksum) >>> 0) === 0) return flags;
  }
  return undefined;
}

/** Note regions (offset, size, alignment) from program headers, then section headers. */
function noteRegions(read: ByteReader, size: number, e: ElfHeader): { off: number; len: number; align: number }[] {
  const regions: { off: number; len: number; align: number }[] = [];
  if (e.phoff > 0 && e.phnum > 0 && e.phentsize >= phdrSize(e) && e.phnum <= MAX_HEADERS && e.phoff < size) {
    for (const ph of programHeaders(read(e.phoff, e.phnum * e.phentsize), e)) if (ph.type === PT_NOTE) regions.push({ off: ph.offset, len: ph.filesz, align: ph.align });
  }
  const minSh = e.is64 ? 64 : 40;
  if (e.shoff > 0 && e.shnum > 0 && e.shentsize >= minSh && e.shnum <= MAX_HEADERS && e.shoff < size) {
    const tbl = read(e.shoff, e.shnum * e.shentsize);
    for (let i = 0; (i + 1) * e.shentsize <= tbl.length; i++) {
      const s = i * e.shentsize;
      if (tbl.readUInt32LE(s + 4) !== SHT_NOTE) continue;
      if (e.is64) regions.push({ off: num64(tbl, s + 24), len: num64(tbl, s + 32), align: num64(tbl, s + 48) });
      else regions.push({ off: tbl.readUInt32LE(s + 16), len: tbl.readUInt32LE(s + 20), align: tbl.readUInt32LE(s + 32) });
    }
  }
  return regions;
}

function hasPvhNote(read: ByteReader, size: number, e: ElfHeader): boolean {
  for (const r of noteRegions(read, size, e)) {
    if (r.off >= size || r.len === 0) continue;
    const notes = read(r.off, Math.min(r.len, MAX_NOTE_BYTES));
    const align = r.align === 8 ? 8 : 4;
    const pad = (n: number) => (n + align - 1) & ~(align - 1);
    let p = 0;
    while (p + 12 <= notes.length) {
      const namesz = notes.readUInt32LE(p);
      const descsz = notes.readUInt32LE(p + 4);
      const type = notes.readUInt32LE(p + 8);
      const nameStart = p + 12;
      if (namesz > notes.length || descsz > notes.length) break;
      const name = notes.toString('latin1', nameStart, Math.min(nameStart + namesz, notes.length)).replace(/\0+$/, '');
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      p = pad(nameStart + namesz) + pad(descsz);
    }
  }
  return false;
}
