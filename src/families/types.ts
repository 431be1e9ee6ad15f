import type { BootSpec, VmExit } from '../vmm/types.js';

/** Image-level boot facts, read from the image config's org.cunik.* labels. */
export interface ImageBootInfo {
  family: string;
  /** multiboot | pvh | linux | disk */
  boot: string;
  kernelPath?: string;
  initrdPath?: string;
  diskPath?: string;
  /** Default args from the image. */
  args: string[];
  env: string[];
  memoryMiB: number;
  cpus: number;
  labels: Record<string, string>;
}

/** What the user asked for at create time. */
export interface InstanceBootConfig {
  /** Replaces the image's default args when non-empty. */
  args: string[];
  env: string[];
  memoryMiB?: number;
  cpus?: number;
}

export interface FamilyAdapter {
  readonly name: string;
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec;
  /** Map how QEMU ended to the unikernel's exit code. */
  exitCode(exit: VmExit): number;
}
