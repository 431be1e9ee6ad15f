// Reads the device list from a Solo5 unikernel's manifest: the ELF note "Solo5" of type "MFT1"
// in .note.solo5.manifest (Solo5's include/mft_abi.h: struct mft1_note, struct mft_entry), as
// solo5-elftool and the tenders do (tenders/common/elf.c elf_load_note). Pure: takes the file's
// bytes. `cunik import` stores the result in the label org.cunik.solo5.devices (images/import-facts.ts).
import { programHeaders, PT_NOTE, readElfHeader } from '../util/elf.js';

export type Solo5DeviceType = 'net' | 'block';

export interface Solo5Device {
  name: string;
  type: Solo5DeviceType;
}

const NOTE_TYPE_MFT1 = 0x3154464d; // "MFT1"
const NHDR_SIZE = 20; // Elf64_Nhdr (12) + "Solo5\0" padded to 8
const MFT_ALIGN = 8; // the desc (struct mft) starts 8-aligned: 4 bytes of padding after the header
const ENTRY_SIZE = 104; // name[68], type u32, union u (16, 8-aligned), union b (8), bool, padding
const ENTRY_TYPES: Record<number, Solo5DeviceType> = { 1: 'block', 2: 'net' };

/** The devices a Solo5 ELF declares, or undefined when it has no MFT1 manifest note. */
export function solo5ManifestDevices(elf: Buffer): Solo5Device[] | undefined {
  // ELF64 as Solo5 builds them; ELF32 too (the project's test kernels imitate Solo5 in 32 bits).
  const hdr = elf.length >= 52 && elf[5] === 1 && (elf[4] === 1 || elf[4] === 2) ? readElfHeader(elf) : undefined;
  if (!hdr || hdr.phoff >= elf.length) return undefined;
  for (const ph of programHeaders(elf.subarray(hdr.phoff, hdr.phoff + hdr.phnum * hdr.phentsize), hdr)) {
    if (ph.type !== PT_NOTE) continue;
    const { offset: off, filesz: size } = ph;
    if (size < NHDR_SIZE || off + size > elf.length) continue;
    const [namesz, descsz, type] = [elf.readUInt32LE(off), elf.readUInt32LE(off + 4), elf.readUInt32LE(off + 8)];
    if (type !== NOTE_TYPE_MFT1 || namesz !== 6 || elf.toString('latin1', off + 12, off + 17) !== 'Solo5') continue;
    const mft = off + ((NHDR_SIZE + MFT_ALIGN - 1) & -MFT_ALIGN);
    const end = off + NHDR_SIZE + descsz;
    if (mft + 8 > end || end > elf.length) return undefined;
    const entries = elf.readUInt32LE(mft + 4);
    const devices: Solo5Device[] = [];
    for (let e = 0; e < entries && mft + 8 + (e + 1) * ENTRY_SIZE <= end; e++) {
      const at = mft + 8 + e * ENTRY_SIZE;
      const kind = ENTRY_TYPES[elf.readUInt32LE(at + 68)];
      if (kind === undefined) continue; // entry 0 is MFT_RESERVED_FIRST
      const nul = elf.indexOf(0, at);
      devices.push({ name: elf.toString('latin1', at, nul < 0 || nul > at + 68 ? at + 68 : nul), type: kind });
    }
    return devices;
  }
  return undefined;
}

/** The label form: "net:service,block:storage" (empty string for no devices). */
export const solo5DevicesLabel = (devices: Solo5Device[]): string => devices.map((d) => `${d.type}:${d.name}`).join(',');

/** Parse the label back; undefined when the label is absent. */
export function parseSolo5DevicesLabel(label: string | undefined): Solo5Device[] | undefined {
  if (label === undefined) return undefined;
  return label.split(',').filter(Boolean).map((item) => {
    const [type, name = ''] = item.split(':');
    return { type: type === 'block' ? 'block' : 'net', name };
  });
}
