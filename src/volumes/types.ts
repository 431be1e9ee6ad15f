// Named volumes (DESIGN.md, "Volumes"): what the store keeps and what create takes.
import { randomBytes } from 'node:crypto';
import { inRange, LIMITS } from '../api/limits.js';
import { invalid } from '../errors.js';

/** block: a raw file with an ext4 file system (virtio-blk); share: a host folder (virtio-9p). */
export type VolumeDriver = 'block' | 'share';

export interface Volume {
  name: string;
  driver: VolumeDriver;
  /** The host path given to QEMU: the block file or the shared folder. */
  mountpoint: string;
  createdAt: string;
  labels: Record<string, string>;
  /** Created for an image's declared mount point without a -v for it (removed by run --rm / rm -v). */
  anonymous: boolean;
  /** Block volumes: the file's size in bytes (sparse: what the guest sees). */
  size?: number;
  /** Shares of a host folder of the user's (Docker's type=none,o=bind,device=PATH): that folder, also the mountpoint. */
  device?: string;
}

export interface CreateVolumeOptions {
  /** Default: a random 64-hex id, as Docker names anonymous volumes. */
  name?: string | undefined;
  /** Default share. */
  driver?: VolumeDriver | undefined;
  /** Block volumes only; default DEFAULT_BLOCK_SIZE. */
  sizeBytes?: number | undefined;
  labels?: Record<string, string> | undefined;
  anonymous?: boolean | undefined;
  /** Share volumes: an existing host folder the volume is, instead of one the store makes (driver-opts.ts). */
  device?: string | undefined;
}

export const DEFAULT_BLOCK_SIZE = 64 * 1024 * 1024;
/** mkfs.ext4 needs room for its journal and tables; below this it fails or leaves no space. */

/** Docker's rule for volume names (daemon/names: RestrictedNamePattern). */
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function checkVolumeName(name: string, field = 'name'): string {
  if (!VOLUME_NAME.test(name) || name.length > 255) {
    throw invalid(`invalid volume name "${name}": use at least two of [a-zA-Z0-9_.-], starting with a letter or digit`, field);
  }
  return name;
}

export const randomVolumeName = (): string => randomBytes(32).toString('hex');

export function checkBlockSize(bytes: number): number {
  if (!inRange(bytes, LIMITS.volumeSizeBytes)) {
    throw invalid(`invalid volume size ${bytes}: a block volume takes from 8 MiB to 16 TiB`, 'sizeBytes');
  }
  return bytes;
}
