// The read-only root disk of a linux image built `from:` a container image (docs/cunikfile.md,
// "rootfs"): the container's tree as an erofs image (Debian's erofs-utils, mkfs.erofs), made once
// per tree and cached by the tree's key (initramfs.ts: rootDiskPlan), attached read-only to every
// instance (families/linux.ts), which shares it through the host's page cache. cunik-init mounts
// it, lays the initramfs's /.cunik/root and a tmpfs over it with overlayfs and switches root (init.c).
// - Uncompressed: the guest reads it in place (no decompression at boot under TCG), and the
//   file's pages in the host's page cache are the same for every instance.
// - Reproducible: owners as the layers gave them (rootfs.ts; the initramfs keeps them too: cpio.ts),
//   a fixed timestamp and UUID, so the same tree gives the same bytes (and the same layer digest).
// - auto picks the disk over the initramfs when the tree would take more than ROOTDISK_THRESHOLD
//   of the guest's memory unpacked (footprint.ts: residentBytes): below it the initramfs boots
//   as fast and needs no disk.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { invalid } from '../../errors.js';

const run = promisify(execFile);
const MiB = 1 << 20;

/** Resident bytes of an unpacked tree above which `rootfs: auto` makes a root disk. */
export const ROOTDISK_THRESHOLD = 32 * MiB;

/** Kernel modules the init loads at boot to mount a root disk (resolved with their dependencies: modules.ts). */
export const ROOTDISK_MODULES = ['virtio_blk', 'erofs', 'overlay'];

/**
 * Guest memory a root-disk image needs beyond the kernel and its small initramfs: the page cache
 * of what the app reads from the disk, the overlay's tmpfs and the slabs of both file systems.
 */
export const ROOTDISK_MARGIN_MIB = 24;

export type RootfsMode = 'auto' | 'disk' | 'initramfs';

/** Whether a build makes a root disk: never without a container tree; `auto` by its size. */
export function wantsRootDisk(mode: RootfsMode, hasTree: boolean, residentTreeBytes: number): boolean {
  if (!hasTree) return false;
  if (mode === 'auto') return residentTreeBytes > ROOTDISK_THRESHOLD;
  return mode === 'disk';
}

/** mkfs.erofs's argv for `dir` into `out` (pure; table-tested). */
export function mkfsErofsArgs(dir: string, out: string): string[] {
  return ['--quiet', '-T0', '-U', '00000000-0000-0000-0000-000000000000', '-x-1', out, dir];
}

/** Make the erofs image of `dir` at `out`. */
export async function makeRootDisk(dir: string, out: string): Promise<void> {
  try {
    await run('mkfs.erofs', mkfsErofsArgs(dir, out), { maxBuffer: 4 * MiB });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw invalid('rootfs: the root disk needs mkfs.erofs (Debian\'s erofs-utils), which is not installed on the daemon\'s host', 'rootfs');
    throw new Error(`mkfs.erofs: ${(e.stderr ?? e.message).trim().split('\n').pop() ?? ''}`);
  }
}
