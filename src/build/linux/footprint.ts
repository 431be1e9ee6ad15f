// The least guest memory a linux-family image boots in. Below it the guest says nothing at all:
// QEMU loads the vmlinux at its physical addresses (Debian's 6.1 kernel ends at 74 MiB), so with
// less RAM than that the kernel never starts, and a little above it the kernel runs out of memory
// unpacking the initramfs and panics before its console is up (measured with the httpd example:
// silent at 64 MiB, a panic at 80, boots at 88). So the builder records the minimum as a label and
// the linux adapter refuses less, saying why.
// The unpacked tree is counted as the kernel holds it, not as the archive's bytes: rootfs keeps each
// file in whole pages and each entry costs an inode and a dentry, so a real image's many small
// files take far more than their bytes (a Debian minbase: 338 MiB by its bytes, too little at 384;
// 20000 files of 100 bytes: 5 MiB of archive, 100 MiB in pages); and the kernel spends 64 bytes
// (a struct page) of every 4 KiB of RAM on its memory map. Below that the kernel's unpacking fails
// with "write error" and goes on with a partial root (reported: families/linux.ts).
// An image with a root disk (rootdisk.ts) unpacks only its small initramfs: its tree is read from
// the disk through the guest's page cache, counted as ROOTDISK_MARGIN_MIB instead (builder.ts).
import { closeSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { CpioEntry } from './cpio.js';
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

export const PAGE = 4096;
/** An inode and a dentry in the kernel's slabs, rounded up (6.1: about 600 + 192 bytes). */
export const ENTRY_OVERHEAD = 1024;

/** Bytes the unpacked entries hold in the guest's rootfs: whole pages for each file and symlink, an inode and dentry each. */
export async function residentBytes(entries: Iterable<CpioEntry>): Promise<number> {
  let total = 0;
  for (const e of entries) {
    total += ENTRY_OVERHEAD;
    if (e.type === 'symlink') total += PAGE;
    else if (e.type === 'file') {
      const size = Buffer.isBuffer(e.source) ? e.source.length : (await stat(e.source)).size;
      total += Math.ceil(size / PAGE) * PAGE;
    }
  }
  return total;
}

/**
 * MiB of guest memory the image needs: the kernel up to its end, the compressed initramfs where
 * QEMU puts it and its unpacked tree (both live until the kernel frees the first: residentBytes),
 * the memory map over all of that, and a margin.
 */
export function minimumMemoryMiB(kernelEndBytes: number, initrdBytes: number, residentTreeBytes: number): number {
  return Math.ceil(((kernelEndBytes + initrdBytes + residentTreeBytes) * 65) / 64 / MiB) + WORKING_MARGIN_MIB;
}
