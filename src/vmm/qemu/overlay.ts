// Per-instance copy-on-write overlays (DESIGN.md, "Families": images are read-only templates).
// A BootSpec disk with `overlay` names a qcow2 file in the instance directory backed by the image's
// disk; the driver creates it before the first start (qemu-img), keeps it across restarts (like a
// container's writable layer), and removeOverlays (or `rm` of the directory) drops it.
import { execFile } from 'node:child_process';
import { access, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CunikError, invalid } from '../../errors.js';
import type { BootSpec, DiskSpec } from '../types.js';
import { diskPath } from './argv.js';

export const DEFAULT_QEMU_IMG = 'qemu-img';
const run = promisify(execFile);

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

/** Create every overlay `spec` needs in `dir` that does not exist yet; returns the paths created. */
export async function createOverlays(spec: BootSpec, dir: string, binary = DEFAULT_QEMU_IMG): Promise<string[]> {
  const created: string[] = [];
  for (const o of pendingOverlays(spec, dir, binary)) {
    if (await access(o.path).then(() => true, () => false)) continue;
    try {
      await run(o.argv[0]!, o.argv.slice(1));
      created.push(o.path);
    } catch (err) {
      await rm(o.path, { force: true }); // a half-written overlay must not be taken for a good one
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      const why = e.code === 'ENOENT' ? `${binary} not found (apt-get install qemu-utils)` : (e.stderr ?? e.message).trim();
      throw new CunikError('INTERNAL', `cannot create the instance's disk overlay: ${why}`);
    }
  }
  return created;
}

/** Remove the overlays `spec` names in `dir` (never a disk that is not an overlay: those are the image's). */
export async function removeOverlays(spec: BootSpec, dir: string): Promise<void> {
  for (const d of spec.disks) if (d.overlay !== undefined) await rm(diskPath(d, dir), { force: true });
}
