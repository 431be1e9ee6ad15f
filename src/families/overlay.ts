// Per-instance copy-on-write overlays (DESIGN.md, "Families": images are read-only templates).
// A BootSpec disk with `overlay` names a qcow2 file in the instance directory backed by the image's
// disk; the instances layer creates it before the first start with the argv below, keeps it across
// restarts (like a container's writable layer), and `rm` drops it with the directory.
import { diskPath } from '../vmm/qemu/argv.js';
import { invalid } from '../errors.js';
import type { BootSpec, DiskSpec } from '../vmm/types.js';

export const DEFAULT_QEMU_IMG = 'qemu-img';

/**
 * `qemu-img create -f qcow2 -F <fmt> -b <backing> <overlay>` (qemu-img(1)). The backing path is
 * made absolute, as qemu-img resolves a relative one against the overlay's directory. The overlay's
 * virtual size is the backing file's.
 */
export function qemuImgOverlayArgv(disk: DiskSpec, dir: string, binary = DEFAULT_QEMU_IMG): string[] {
  if (disk.overlay === undefined) throw invalid(`disk ${disk.path} is not an overlay`, 'disks');
  if (disk.format !== 'qcow2') throw invalid(`an overlay is a qcow2 file, not ${disk.format}`, 'disks');
  const backing = diskPath({ path: disk.overlay.backing }, dir);
  return [binary, 'create', '-q', '-f', 'qcow2', '-F', disk.overlay.backingFormat, '-b', backing, diskPath(disk, dir)];
}

export interface PendingOverlay {
  /** Absolute path of the overlay file; create it only if it does not exist yet. */
  path: string;
  argv: string[];
}

/** The overlays a boot spec needs in instance directory `dir`, with the argv that creates each. */
export function pendingOverlays(spec: BootSpec, dir: string, binary = DEFAULT_QEMU_IMG): PendingOverlay[] {
  return spec.disks
    .filter((d) => d.overlay !== undefined)
    .map((d) => ({ path: diskPath(d, dir), argv: qemuImgOverlayArgv(d, dir, binary) }));
}
