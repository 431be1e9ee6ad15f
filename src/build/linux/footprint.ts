// The least guest memory a linux-family image boots in. Below it the guest says nothing at all:
// QEMU loads the vmlinux at its physical addresses (Debian's 6.1 kernel ends at 74 MiB), so with
// less RAM than that the kernel never starts, and a little above it the kernel runs out of memory
// unpacking the initramfs and panics before its console is up (measured with the httpd example:
// silent at 64 MiB, a panic at 80, boots at 88). So the builder records the minimum as a label and
// the linux adapter refuses less, saying why.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { programHeaders, PT_LOAD, readElfHeader } from '../../util/elf.js';

const MiB = 1 << 20;

/** Room for the kernel's own allocations, the init and the app beyond the images (measured margin: 9 MiB). */
export const WORKING_MARGIN_MIB = 16;

/** The end of a 64-bit ELF kernel's loaded image in guest-physical memory (max p_paddr + p_memsz of PT_LOAD). */
export function kernelEnd(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    const e = head[4] === 2 ? readElfHeader(head) : undefined;
    if (!e) throw new Error(`${path}: not a 64-bit ELF kernel`);
    const table = Buffer.alloc(e.phentsize * e.phnum);
    readSync(fd, table, 0, table.length, e.phoff);
    let end = 0;
    for (const ph of programHeaders(table, e)) if (ph.type === PT_LOAD) end = Math.max(end, ph.paddr + ph.memsz);
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
