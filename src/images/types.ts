// The image store's public shape. The daemon's services and routes depend on this, not on the files.
import type { HistoryEntry } from './history.js';

export interface ImageSummary {
  /** Image id: the config blob digest, "sha256:<hex>". */
  id: string;
  /** Manifest digest, "sha256:<hex>". */
  digest: string;
  /** "name:tag" references pointing at this image. */
  repoTags: string[];
  /** ISO 8601. */
  created: string;
  /** Sum of manifest, config and layer blob sizes, bytes. */
  size: number;
  family: string;
  /** multiboot | pvh | linux | disk */
  boot: string;
}

export interface ImageDetail extends ImageSummary {
  /** The OCI image config's labels (org.cunik.* and others). */
  labels: Record<string, string>;
  /** Default args given to the unikernel. */
  args: string[];
  env: string[];
  memoryMiB: number;
  cpus: number;
  architecture: string;
  os: string;
  layers: { digest: string; size: number; mediaType: string }[];
  /** The steps that made the image, newest first (images/history.ts). */
  history: HistoryEntry[];
}

export interface ImportOptions {
  family: string;
  /**
   * A kernel plus a disk image in one upload (OSv's loader and usr.img, nanos' kernel.img and its
   * disk): the file is the kernel, this many bytes, followed by the disk.
   */
  kernelSize?: number;
  args?: string[];
  memoryMiB?: number;
  cpus?: number;
}

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

/** Files a booting instance needs, unpacked from the image's layer; read-only. */
export interface BootArtifacts {
  kernel?: string;
  initrd?: string;
  disk?: string;
}
