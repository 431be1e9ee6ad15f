// Reads which libraries a Unikraft kernel links, and its Unikraft version, from its .uk_libinfo
// section (unikraft lib/uklibid, include/uk/libid/info.h and libinfo.S, 0.16+): a run of packed
// headers { u32 len (incl. header), u16 layout version (1) } each followed by records
// { u16 type, u32 len (incl. record header), data }. A library's header has a LIBNAME record (1);
// the one global header carries UKVERSION (6) or UKFULLVERSION (7, "0.16.3~e453b74a"). Pure: takes
// the file's bytes. `cunik import` and `cunik build` store the result in the labels
// org.cunik.unikraft.libs and org.cunik.unikraft.version (images/import-facts.ts).
import { readElfHeader, sectionByName } from '../util/elf.js';

export interface UnikraftLibInfo {
  libs: string[];
  version?: string;
}

const HDR = 6;
const REC = 6;
const LAYOUT = 1;
const REC_LIBNAME = 1;
const REC_UKVERSION = 6;
const REC_UKFULLVERSION = 7;
/** What a library name or version may look like in a label (anything else in the section is skipped). */
const NAME = /^[A-Za-z0-9_.+~-]{1,64}$/;

const cstring = (b: Buffer): string => {
  const nul = b.indexOf(0);
  return b.toString('latin1', 0, nul < 0 ? b.length : nul);
};

/** The libraries and version a Unikraft ELF records, or undefined when it has no .uk_libinfo section. */
export function unikraftLibInfo(elf: Buffer): UnikraftLibInfo | undefined {
  const hdr = elf.length >= 52 && elf[5] === 1 && (elf[4] === 1 || elf[4] === 2) ? readElfHeader(elf) : undefined;
  const sec = hdr && sectionByName(elf, hdr, '.uk_libinfo');
  if (!sec) return undefined;
  const info: UnikraftLibInfo = { libs: [] };
  for (let h = 0; h + HDR <= sec.length;) {
    const len = sec.readUInt32LE(h);
    if (len < HDR || h + len > sec.length) break; // a broken run: keep what was read
    if (sec.readUInt16LE(h + 4) === LAYOUT) {
      for (let r = h + HDR; r + REC <= h + len;) {
        const rlen = sec.readUInt32LE(r + 2);
        if (rlen < REC || r + rlen > h + len) break;
        const type = sec.readUInt16LE(r);
        const text = cstring(sec.subarray(r + REC, r + rlen));
        if (type === REC_LIBNAME && NAME.test(text) && !info.libs.includes(text)) info.libs.push(text);
        if ((type === REC_UKVERSION || type === REC_UKFULLVERSION) && info.version === undefined && NAME.test(text)) info.version = text;
        r += rlen;
      }
    }
    h += len;
  }
  return info;
}

/** The libraries a label lists, or undefined when the image has no such label (imported before). */
export const parseUnikraftLibsLabel = (label: string | undefined): Set<string> | undefined =>
  label === undefined ? undefined : new Set(label.split(',').filter(Boolean));
