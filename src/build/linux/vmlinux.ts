// The uncompressed kernel (vmlinux) out of a bzImage. QEMU boots a vmlinux that carries a PVH
// ELF note directly, skipping the bzImage's own decompression (for Debian's xz-compressed
// kernel about 2.5 s of a 4 s boot under TCG), so the builder extracts it once and caches it.
// Where the payload is: the bzImage's setup header (Documentation/arch/x86/boot.rst) gives
// setup_sects (0x1f1), payload_offset (0x248) and payload_length (0x24c, protocol >= 2.08),
// the payload starting at (setup_sects + 1) * 512 + payload_offset; its first bytes name the
// compression (as scripts/extract-vmlinux looks for them). The kernel's build appends the
// uncompressed size (4 bytes) to every format but gzip; the decompressors here ignore it.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { closeSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { invalid } from '../../errors.js';
import { COMPRESSION_MAGICS } from '../../util/decompress.js';
import { detectKernelFormatFile } from '../../images/kernel-format.js';

export type KernelCompression = 'gzip' | 'xz' | 'zstd' | 'lzma' | 'bzip2' | 'lz4' | 'lzo';

// The archive and layer kinds (util/decompress.ts), and those only kernels use.
const MAGICS: [KernelCompression, number[]][] = [
  ...COMPRESSION_MAGICS,
  ['lz4', [0x02, 0x21, 0x4c, 0x18]],
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
  ['lzma', [0x5d, 0x00, 0x00]],
];

export interface BzImage {
  version?: string;
  protocol: number;
  compression: KernelCompression;
  payload: Buffer;
}

export function isBzImage(head: Buffer): boolean {
  return head.length >= 0x206 && head.toString('latin1', 0x202, 0x206) === 'HdrS';
}

/** Parse a bzImage held in memory; throws invalid(...) with the reason when it is not one. */
export function parseBzImage(buf: Buffer, what = 'kernel'): BzImage {
  if (!isBzImage(buf)) throw invalid(`${what}: not a Linux bzImage (no "HdrS" at 0x202)`);
  const protocol = buf.readUInt16LE(0x206);
  if (protocol < 0x208) throw invalid(`${what}: boot protocol ${protocol >> 8}.${protocol & 0xff} is too old to locate the payload (needs 2.08)`);
  const setupSects = buf[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + buf.readUInt32LE(0x248);
  const length = buf.readUInt32LE(0x24c);
  if (start + length > buf.length || length === 0) throw invalid(`${what}: payload (${length} bytes at ${start}) is outside the file`);
  const payload = buf.subarray(start, start + length);
  const found = MAGICS.find(([, m]) => m.every((b, i) => payload[i] === b));
  if (!found) throw invalid(`${what}: unknown payload compression (first bytes ${payload.subarray(0, 6).toString('hex')})`);
  const out: BzImage = { protocol, compression: found[0], payload };
  const kv = buf.readUInt16LE(0x20e);
  if (kv !== 0 && kv + 0x200 < buf.length) {
    const s = buf.toString('latin1', kv + 0x200, Math.min(buf.length, kv + 0x200 + 256));
    out.version = s.slice(0, s.indexOf('\0') === -1 ? s.length : s.indexOf('\0')).split(' ')[0];
  }
  return out;
}

/** The release ("6.1.0-56-amd64") from a vmlinux's "Linux version ..." banner, if present. */
export function vmlinuxVersion(path: string): string | undefined {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const chunk = Buffer.alloc(1 << 20);
    const needle = Buffer.from('Linux version ');
    for (let off = 0; off < size; off += chunk.length - 256) {
      const n = readSync(fd, chunk, 0, chunk.length, off);
      const i = chunk.subarray(0, n).indexOf(needle);
      if (i !== -1 && i + 256 <= n) {
        const rest = chunk.toString('latin1', i + needle.length, i + needle.length + 128);
        const v = rest.split(/[\s\0]/)[0];
        if (v && /^[0-9]+\.[0-9]+/.test(v)) return v;
      }
      if (n < chunk.length) break;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function run(cmd: string, args: string[], input: Buffer, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(out, 'w', 0o644);
    const p = spawn(cmd, args, { stdio: ['pipe', fd, 'pipe'] }) as ChildProcessByStdio<Writable, null, Readable>;
    closeSync(fd);
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? invalid(`${cmd} is needed to decompress this kernel: install it (apt-get install ${cmd === 'xz' ? 'xz-utils' : cmd})`) : e));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${err.trim()}`))));
    p.stdin.on('error', () => undefined);
    p.stdin.end(input);
  });
}

/**
 * Write the bzImage's uncompressed vmlinux to `out` (atomically) and check that QEMU can boot it
 * (an ELF with a PVH note). Returns the kernel release from the header.
 */
export async function extractVmlinux(bzImagePath: string, out: string): Promise<{ version?: string; compression: KernelCompression }> {
  const bz = parseBzImage(readFileSync(bzImagePath), bzImagePath);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    const body = bz.payload.subarray(0, bz.payload.length - 4);
    switch (bz.compression) {
      case 'gzip':
        await writeFile(tmp, gunzipSync(bz.payload));
        break;
      case 'xz':
        await run('xz', ['-dc', '--single-stream'], bz.payload, tmp);
        break;
      case 'zstd':
        await run('zstd', ['-dcq'], body, tmp);
        break;
      case 'lz4':
        await run('lz4', ['-dcq'], body, tmp);
        break;
      case 'bzip2':
        await run('bzip2', ['-dc'], body, tmp);
        break;
      default:
        throw invalid(`${bzImagePath}: ${bz.compression}-compressed kernels cannot be extracted yet; use a gzip, xz or zstd one`);
    }
    const { boot } = detectKernelFormatFile(tmp);
    if (boot !== 'pvh') throw invalid(`${bzImagePath}: its vmlinux has no PVH note (CONFIG_PVH), so QEMU cannot boot it directly`);
    await rename(tmp, out);
  } finally {
    await rm(tmp, { force: true });
  }
  return { ...(bz.version !== undefined && { version: bz.version }), compression: bz.compression };
}
