// Disk images a family boots from (nanos, osv): raw (an MBR at 510) or qcow2, checked at import so
// that the daemon, which runs QEMU as root, never opens what an untrusted image could point at.
// qcow2 per QEMU's docs/interop/qcow2.txt: a big-endian header; a guest offset is found through the
// L1 table (one entry per L2 table) and an L2 table (one entry per cluster).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { invalid } from '../errors.js';

export type DiskFormat = 'raw' | 'qcow2';

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
const MAX_CLUSTER_BITS = 21; // QEMU's limit (2 MiB clusters)
const MIN_CLUSTER_BITS = 9;
/** Incompatible features (header v3, offset 72): which QEMU could open without reaching outside the file. */
const INCOMPAT_DIRTY = 1n << 0n;
const INCOMPAT_CORRUPT = 1n << 1n;
const INCOMPAT_EXTERNAL_DATA = 1n << 2n;
const INCOMPAT_COMPRESSION_TYPE = 1n << 3n;
const INCOMPAT_EXTENDED_L2 = 1n << 4n;
const OFFSET_MASK = 0x00fffffffffffe00n;
const L2_COMPRESSED = 1n << 62n;
const L2_ZERO = 1n;

export interface Qcow2Header {
  version: number;
  clusterBits: number;
  /** Virtual size in bytes. */
  size: number;
  l1Size: number;
  l1Offset: number;
  extendedL2: boolean;
}

type Read = (offset: number, length: number) => Buffer;

const refuse = (why: string): never => {
  throw invalid(`not a usable qcow2 disk image: ${why}`, 'disk');
};

/**
 * The header of a qcow2 file, refusing what QEMU would follow out of the file (a backing file, an
 * external data file), what it cannot open without a secret (encryption), and what is marked corrupt.
 */
export function parseQcow2Header(head: Buffer): Qcow2Header {
  if (head.length < 72 || head.readUInt32BE(0) !== QCOW2_MAGIC) refuse('no qcow2 header');
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) refuse(`version ${version} (QEMU writes 2 and 3)`);
  if (head.readBigUInt64BE(8) !== 0n) refuse('it names a backing file, which QEMU would open on the host (flatten it: qemu-img convert -O qcow2)');
  const clusterBits = head.readUInt32BE(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) refuse(`cluster size 2^${clusterBits}`);
  if (head.readUInt32BE(32) !== 0) refuse('it is encrypted');
  let extendedL2 = false;
  if (version === 3) {
    if (head.length < 104) refuse('truncated version 3 header');
    const incompat = head.readBigUInt64BE(72);
    if (incompat & INCOMPAT_EXTERNAL_DATA) refuse('its data is in an external file, which QEMU would open on the host');
    if (incompat & INCOMPAT_CORRUPT) refuse('it is marked corrupt (qemu-img check -r all)');
    const known = INCOMPAT_DIRTY | INCOMPAT_COMPRESSION_TYPE | INCOMPAT_EXTENDED_L2;
    if (incompat & ~known) refuse(`unknown incompatible features 0x${incompat.toString(16)}`);
    extendedL2 = (incompat & INCOMPAT_EXTENDED_L2) !== 0n;
  }
  const size = head.readBigUInt64BE(24);
  const l1Offset = head.readBigUInt64BE(40);
  return {
    version,
    clusterBits,
    size: size > BigInt(Number.MAX_SAFE_INTEGER) ? refuse('virtual size too large') : Number(size),
    l1Size: head.readUInt32BE(36),
    l1Offset: l1Offset > BigInt(Number.MAX_SAFE_INTEGER) ? refuse('L1 table offset too large') : Number(l1Offset),
    extendedL2,
  };
}

/**
 * Read `length` bytes at guest offset `offset` of a qcow2 image: unallocated and zero clusters read
 * as zeros. Compressed clusters are not read (undefined): callers treat the data as unknown.
 */
export function readQcow2(read: Read, h: Qcow2Header, offset: number, length: number): Buffer | undefined {
  const out = Buffer.alloc(Math.max(0, Math.min(length, h.size - offset)));
  const clusterSize = 1 << h.clusterBits;
  const l2Bits = h.clusterBits - (h.extendedL2 ? 4 : 3);
  let done = 0;
  while (done < out.length) {
    const at = offset + done;
    const inCluster = at % clusterSize;
    const n = Math.min(clusterSize - inCluster, out.length - done);
    const cluster = Math.floor(at / clusterSize);
    const l1Index = Math.floor(cluster / 2 ** l2Bits);
    const l2Index = cluster % 2 ** l2Bits;
    if (l1Index >= h.l1Size) return undefined;
    const l1 = read(h.l1Offset + l1Index * 8, 8);
    if (l1.length < 8) return undefined;
    const l2Table = Number(l1.readBigUInt64BE(0) & OFFSET_MASK);
    if (l2Table !== 0) {
      const entrySize = h.extendedL2 ? 16 : 8;
      const e = read(l2Table + l2Index * entrySize, 8);
      if (e.length < 8) return undefined;
      const entry = e.readBigUInt64BE(0);
      if (entry & L2_COMPRESSED) return undefined;
      const data = Number(entry & OFFSET_MASK);
      if (data !== 0 && !(entry & L2_ZERO)) {
        const bytes = read(data + inCluster, n);
        if (bytes.length < n) return undefined;
        bytes.copy(out, done);
      }
    }
    done += n;
  }
  return out;
}

/** A disk image file opened for reading: its format and a reader of its guest bytes. */
export function withDiskReader<T>(path: string, format: DiskFormat, fn: (readGuest: (offset: number, length: number) => Buffer | undefined) => T): T {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const read: Read = (offset, length) => {
      const n = Math.max(0, Math.min(length, fileSize - offset));
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, buf, got, n - got, offset + got);
        if (r === 0) break;
        got += r;
      }
      return buf.subarray(0, got);
    };
    if (format === 'raw') return fn((offset, length) => read(offset, length));
    const header = parseQcow2Header(read(0, 112));
    return fn((offset, length) => readQcow2(read, header, offset, length));
  } finally {
    closeSync(fd);
  }
}

/** OSv keeps its command line in the disk from byte 512, NUL-terminated (scripts/imgedit.py setargs; boot16.S reads 63 sectors). */
const OSV_CMDLINE_OFFSET = 512;
const OSV_CMDLINE_MAX = 63 * 512;

/** The command line written into an OSv disk image, or undefined when there is none (or it cannot be read). */
export function osvDiskCmdline(path: string, format: DiskFormat): string | undefined {
  return withDiskReader(path, format, (readGuest) => {
    const bytes = readGuest(OSV_CMDLINE_OFFSET, OSV_CMDLINE_MAX);
    if (!bytes) return undefined;
    const nul = bytes.indexOf(0);
    if (nul <= 0) return undefined;
    const text = bytes.toString('utf8', 0, nul).trim();
    return text !== '' && !/[\x00-\x08\x0e-\x1f]/.test(text) ? text : undefined;
  });
}
