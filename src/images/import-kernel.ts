// Staging an image from a kernel file (cunik import): private copies of the kernel (and of a disk
// image sent in the same upload), their boot format detected, packed into a Cunik OCI image with
// the family's labels (build.ts, import-facts.ts) and the boot files unpacked beside it, ready for
// the store to commit. Nothing is visible until the store does.
import { createReadStream, createWriteStream, statSync, constants as fsConstants } from 'node:fs';
import { copyFile, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { invalid } from '../errors.js';
import type { Staging } from './blobs.js';
import { stageImage, type ImportMeta } from './build.js';
import type { DiskFormat } from './disk-image.js';
import { importLabels } from './import-facts.js';
import { detectKernelFormatFile } from './kernel-format.js';
import type { LoadedImage } from './load.js';
import { cunikMeta, defaultMemoryMiB } from './oci.js';

/** The uploaded file: `size` bytes, the kernel's first `kernelSize` of them when a disk follows it. */
export interface KernelUpload {
  file: string;
  size: number;
  kernelSize?: number | undefined;
}

/** The image `ref` made of the upload, staged (blobs and unpacked boot files) in `staging`. */
export async function stageKernelImport(staging: Staging, upload: KernelUpload, meta: ImportMeta, ref: string): Promise<LoadedImage> {
  const { file } = upload;
  // Work on private copies so the files cannot change between detection and packing.
  const kernel = staging.scratch('kernel');
  const disk = upload.kernelSize !== undefined ? staging.scratch('disk') : undefined;
  if (disk === undefined) await copyFile(file, kernel, fsConstants.COPYFILE_FICLONE);
  else await splitUpload(file, upload.size, upload.kernelSize!, kernel, disk);
  for (const f of disk === undefined ? [kernel] : [kernel, disk]) {
    const fh = await open(f, 'r');
    await fh.sync().finally(() => fh.close());
  }
  const { boot, diskFormat } = detectKernelFormatFile(kernel);
  let separate: { path: string; format: DiskFormat } | undefined;
  if (disk !== undefined) {
    if (boot === 'disk') throw invalid('the kernel given with a disk image is itself a disk image', 'kernel');
    const d = detectKernelFormatFile(disk);
    if (d.boot !== 'disk') throw invalid('the disk image is not a disk image (an MBR or a qcow2 header)', 'disk');
    separate = { path: disk, format: d.diskFormat ?? 'raw' };
  }
  const labels = importLabels({ family: meta.family, kernel, boot, ...(diskFormat && { diskFormat }), ...(separate && { disk: separate }) });
  const full = { ...meta, boot, memoryMiB: meta.memoryMiB ?? defaultMemoryMiB(boot) };
  const built = await stageImage(staging, { kernel, ...(disk !== undefined && { disk }) }, full,
    // Not the file's path: an upload's is the daemon's own staging file.
    `cunik import --family ${meta.family}`, labels);
  const unpacked = await staging.unpackDir(built.manifestDigest);
  await rename(kernel, join(unpacked, 'kernel'));
  if (disk !== undefined) await rename(disk, join(unpacked, 'disk.img'));
  return {
    manifestDigest: built.manifestDigest,
    manifestSize: stagedSize(staging, built.manifestDigest),
    manifest: built.manifest,
    configDigest: built.configDigest,
    config: built.config,
    meta: cunikMeta(built.config, built.manifest, `image ${ref}`),
    blobs: built.blobs,
    refs: [ref],
  };
}

/** The size of a blob staged in `staging`. */
export function stagedSize(staging: Staging, digest: string): number {
  return statSync(staging.blobPath(digest)!).size;
}

/** A two-file upload (kernel then disk, `kernelSize` bytes of kernel) into its two staging files. */
async function splitUpload(file: string, size: number, kernelSize: number, kernel: string, disk: string): Promise<void> {
  if (!Number.isSafeInteger(kernelSize) || kernelSize < 1 || kernelSize >= size) {
    throw invalid(`kernelSize must be between 1 and the upload's size less one byte (${size - 1}), got ${kernelSize}`, 'kernelSize');
  }
  await pipeline(createReadStream(file, { end: kernelSize - 1 }), createWriteStream(kernel, { mode: 0o600 }));
  await pipeline(createReadStream(file, { start: kernelSize }), createWriteStream(disk, { mode: 0o600 }));
}
