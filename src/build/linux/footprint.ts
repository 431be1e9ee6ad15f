// The least guest memory a linux-family image boots in. Below it the guest says nothing at all:
// QEMU loads the vmlinux at its physical addresses (Debian's 6.1 kernel ends at 74 MiB), so with
// less RAM than that the kernel never starts, and a little above it the kernel runs out of memory
// unpacking the initramfs and panics before its console is up (measured with the httpd example:
// silent at 64 MiB, a panic at 80, boots at 88). So the builder records the minimum as a label and
// the linux adapter refuses less, saying why.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';

const MiB = 1 << 20;
const PT_LOAD = 1;

/** Room for the kernel's own allocations, the init and the app beyond the images (measured margin: 9 MiB). */
export const WORKING_MARGIN_MIB = 16;

/** The end of a 64-bit ELF kernel's loaded image in guest-physical memory (max p_paddr + p_memsz of PT_LOAD). */
export function kernelEnd(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) throw new Error(`${path}: not a 64-bit ELF kernel`);
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    let end = 0;
    for (let i = 0; i < phnum; i++) {
      const ph = table.subarray(i * phentsize);
      if (ph.readUInt32LE(0) !== PT_LOAD) continue;
      end = Math.max(end, Number(ph.readBigUInt64LE(0x18) + ph.readBigUInt64LE(0x28)));
    }
    return end;
  } finally {
    closeSync(fd);
  }
}

/** Bytes a gzip file (one member or several, one after the other) unpacks to. */
export async function gunzippedSize(path: string): Promise<number> {
  let size = 0;
  for await (const chunk of createReadStream(path).pipe(createGunzip())) size += (chunk as Buffer).length;
  return size;
}

/**
 * MiB of guest memory the image needs: the kernel up to its end, the compressed initramfs where
 * QEMU puts it and its unpacked copy (both live until the kernel frees the first), and a margin.
 */
export function minimumMemoryMiB(kernelEndBytes: number, initrdBytes: number, unpackedBytes: number): number {
  return Math.ceil((kernelEndBytes + initrdBytes + unpackedBytes) / MiB) + WORKING_MARGIN_MIB;
}
