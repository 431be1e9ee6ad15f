// The one reader of ELF file and program headers (the gABI's Elf32_Ehdr/Elf64_Ehdr and
// Elf32_Phdr/Elf64_Phdr), for the kernel format detection (images/kernel-format.ts), the linux
// builder's dependency reader (build/linux/elf.ts) and kernel footprint (build/linux/footprint.ts),
// the Solo5 manifest (families/solo5-manifest.ts) and Unikraft's library list (families/unikraft-libinfo.ts),
// which is found by section name (Elf32_Shdr/Elf64_Shdr and the e_shstrndx string table).
// Little-endian only: every x86 ELF is.

export const ELF_MAGIC = 0x7f454c46;
export const EM_X86_64 = 62;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;

export interface ElfHeader {
  is64: boolean;
  /** ET_EXEC (2), ET_DYN (3)... */
  type: number;
  machine: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  shnum: number;
  /** Index of the section holding the section names (e_shstrndx). */
  shstrndx: number;
}

export interface ProgramHeader {
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

/** Does `head` start with the ELF magic? */
export const isElf = (head: Buffer): boolean => head.length >= 4 && head.readUInt32BE(0) === ELF_MAGIC;

/**
 * The file header, or undefined when `head` is not (the start of) an ELF or too short for its
 * class. `problem` is called, and must throw, for an ELF this reader cannot take: an unknown class
 * or a big-endian one.
 */
export function readElfHeader(head: Buffer, problem: (why: string) => never = (why) => { throw new Error(why); }): ElfHeader | undefined {
  if (head.length < 52 || !isElf(head)) return undefined;
  const cls = head[4];
  if (cls !== 1 && cls !== 2) problem(`ELF with an unknown class ${cls}`);
  if (head[5] !== 1) problem('big-endian ELF (x86 kernels are little-endian)');
  const is64 = cls === 2;
  if (is64 && head.length < 64) return undefined;
  const type = head.readUInt16LE(16);
  const machine = head.readUInt16LE(18);
  if (is64) {
    return {
      is64, type, machine,
      phoff: num64(head, 32), shoff: num64(head, 40),
      phentsize: head.readUInt16LE(54), phnum: head.readUInt16LE(56),
      shentsize: head.readUInt16LE(58), shnum: head.readUInt16LE(60), shstrndx: head.readUInt16LE(62),
    };
  }
  return {
    is64, type, machine,
    phoff: head.readUInt32LE(28), shoff: head.readUInt32LE(32),
    phentsize: head.readUInt16LE(42), phnum: head.readUInt16LE(44),
    shentsize: head.readUInt16LE(46), shnum: head.readUInt16LE(48), shstrndx: head.readUInt16LE(50),
  };
}

/** The smallest entry size of each class's program header. */
export const phdrSize = (e: ElfHeader): number => (e.is64 ? 56 : 32);

/** The program headers in `table` (the bytes at e.phoff, e.phnum * e.phentsize long, or fewer). */
export function programHeaders(table: Buffer, e: ElfHeader): ProgramHeader[] {
  const out: ProgramHeader[] = [];
  if (e.phentsize < phdrSize(e)) return out;
  for (let i = 0; i < e.phnum && (i + 1) * e.phentsize <= table.length; i++) {
    const p = i * e.phentsize;
    const type = table.readUInt32LE(p);
    if (e.is64) {
      out.push({ type, offset: num64(table, p + 8), vaddr: num64(table, p + 16), paddr: num64(table, p + 24), filesz: num64(table, p + 32), memsz: num64(table, p + 40), align: num64(table, p + 48) });
    } else {
      const u32 = (at: number): number => table.readUInt32LE(p + at);
      out.push({ type, offset: u32(4), vaddr: u32(8), paddr: u32(12), filesz: u32(16), memsz: u32(20), align: u32(28) });
    }
  }
  return out;
}

/** A 64-bit field as a number (capped at MAX_SAFE_INTEGER: such an offset is outside any file anyway). */
export function num64(b: Buffer, off: number): number {
  const v = b.readBigUInt64LE(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** The file bytes of the section named `name` in the whole file `elf`, or undefined (no such section, or out of the file). */
export function sectionByName(elf: Buffer, e: ElfHeader, name: string): Buffer | undefined {
  const size = e.is64 ? 64 : 40;
  if (e.shentsize < size || e.shstrndx >= e.shnum) return undefined;
  const at = (i: number): { name: number; offset: number; size: number } | undefined => {
    const p = e.shoff + i * e.shentsize;
    if (p + size > elf.length) return undefined;
    return e.is64
      ? { name: elf.readUInt32LE(p), offset: num64(elf, p + 24), size: num64(elf, p + 32) }
      : { name: elf.readUInt32LE(p), offset: elf.readUInt32LE(p + 16), size: elf.readUInt32LE(p + 20) };
  };
  const strtab = at(e.shstrndx);
  if (!strtab || strtab.offset + strtab.size > elf.length) return undefined;
  const want = Buffer.from(`${name}\0`, 'latin1');
  for (let i = 1; i < e.shnum; i++) {
    const s = at(i);
    if (!s || s.name + want.length > strtab.size) continue;
    const start = strtab.offset + s.name;
    if (!elf.subarray(start, start + want.length).equals(want)) continue;
    return s.offset + s.size <= elf.length ? elf.subarray(s.offset, s.offset + s.size) : undefined;
  }
  return undefined;
}
