// Reading what an ELF needs from the dynamic loader, straight from its headers (the ELF-64
// gABI and the System V AMD64 psABI; glibc's elf/dl-load.c reads the same fields):
//   PT_INTERP   the dynamic loader's path (a NUL-terminated string in the file);
//   PT_DYNAMIC  the dynamic section: DT_NEEDED (libraries by name), DT_RUNPATH, DT_RPATH
//               (colon-separated search paths), all offsets into the string table DT_STRTAB,
//               which is a virtual address: mapped to a file offset through the PT_LOAD segments.
// Only what Cunik can boot is accepted: 64-bit little-endian x86-64.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { invalid } from '../../errors.js';
import { EM_X86_64, isElf, programHeaders, PT_DYNAMIC, PT_INTERP, PT_LOAD, readElfHeader } from '../../util/elf.js';

export interface ElfInfo {
  /** ET_EXEC (2) or ET_DYN (3). */
  type: number;
  interp?: string;
  needed: string[];
  runpath: string[];
  rpath: string[];
  /** True when the file has a PT_DYNAMIC segment (a static-pie has one but needs nothing). */
  dynamic: boolean;
}

const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
const MAX_PHDRS = 4096;

/** Is this buffer the start of an ELF that this machine's loader would accept (64-bit LE x86-64)? */
export function isCompatibleElf(head: Buffer): boolean {
  return head.length >= 20 && isElf(head) && head[4] === 2 && head[5] === 1 && head.readUInt16LE(18) === EM_X86_64;
}

export function readElf(path: string): ElfInfo {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (off: number, len: number): Buffer => {
      if (off < 0 || len < 0 || off + len > size) throw invalid(`${path}: truncated or malformed ELF (reading ${len} bytes at ${off})`);
      const b = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const n = readSync(fd, b, got, len - got, off + got);
        if (n === 0) break;
        got += n;
      }
      return b;
    };
    return parse(path, size, read);
  } finally {
    closeSync(fd);
  }
}

function parse(path: string, size: number, read: (off: number, len: number) => Buffer): ElfInfo {
  if (size < 64) throw invalid(`${path}: not an ELF file (too short)`);
  const eh = read(0, 64);
  if (!isElf(eh)) throw invalid(`${path}: not an ELF file`);
  if (eh[4] !== 2 || eh[5] !== 1) throw invalid(`${path}: not a 64-bit little-endian ELF (class ${eh[4]}, data ${eh[5]})`);
  const e = readElfHeader(eh)!;
  if (e.machine !== EM_X86_64) throw invalid(`${path}: ELF for machine ${e.machine}, not x86-64 (62)`);
  const type = e.type;
  if (e.phnum > MAX_PHDRS || (e.phnum > 0 && e.phentsize < 56)) throw invalid(`${path}: malformed ELF program headers`);
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let interp: string | undefined;
  let dyn: { offset: number; filesz: number } | undefined;
  for (const { type: ptype, offset, vaddr, filesz } of programHeaders(read(e.phoff, e.phnum * e.phentsize), e)) {
    if (ptype === PT_LOAD) loads.push({ vaddr, offset, filesz });
    else if (ptype === PT_INTERP) interp = cstr(read(offset, filesz), 0);
    else if (ptype === PT_DYNAMIC) dyn = { offset, filesz };
  }
  const info: ElfInfo = { type, needed: [], runpath: [], rpath: [], dynamic: dyn !== undefined };
  if (interp !== undefined) info.interp = interp;
  if (!dyn) return info;

  const d = read(dyn.offset, dyn.filesz);
  const entries: [number, number][] = [];
  let strtab: number | undefined;
  let strsz = 0;
  for (let o = 0; o + 16 <= d.length; o += 16) {
    const tag = Number(d.readBigInt64LE(o));
    const val = Number(d.readBigUInt64LE(o + 8));
    if (tag === DT_NULL) break;
    if (tag === DT_STRTAB) strtab = val;
    else if (tag === DT_STRSZ) strsz = val;
    else if (tag === DT_NEEDED || tag === DT_RPATH || tag === DT_RUNPATH) entries.push([tag, val]);
  }
  if (entries.length === 0) return info;
  if (strtab === undefined) throw invalid(`${path}: dynamic section without DT_STRTAB`);
  const seg = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
  if (!seg) throw invalid(`${path}: DT_STRTAB 0x${strtab.toString(16)} is outside every PT_LOAD segment`);
  const strOff = seg.offset + (strtab - seg.vaddr);
  const strings = read(strOff, Math.min(strsz || seg.filesz - (strtab - seg.vaddr), size - strOff));
  for (const [tag, val] of entries) {
    const s = cstr(strings, val);
    if (tag === DT_NEEDED) info.needed.push(s);
    else (tag === DT_RPATH ? info.rpath : info.runpath).push(...s.split(':').filter((p) => p !== ''));
  }
  return info;
}

function cstr(b: Buffer, off: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end === -1 ? b.length : end);
}
