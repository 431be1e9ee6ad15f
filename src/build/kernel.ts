// The kernel step of a build, cached by the kernel file's digest:
// - linux family: a bzImage becomes its uncompressed vmlinux (booted directly through its PVH
//   note, about 3x faster than the bzImage under TCG); a vmlinux is used as it is;
// - other families: the unikernel file, whose boot protocol is detected as `cunik import` does.
// Either way the result is the kernel file plus its image layer (cunik/kernel, tar+gzip).

import { closeSync, constants as fsConstants, openSync, readdirSync, readSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../errors.js';
import { detectKernelFormatFile, type BootProtocol } from '../images/kernel-format.js';
import type { PrebuiltLayer } from '../images/build.js';
import { BUILDER_VERSION, digestOf, fileDigest, type BuildCache } from './cache.js';
import { writeLayer } from './layer.js';
import { extractVmlinux, isBzImage, vmlinuxVersion } from './linux/vmlinux.js';

export interface KernelStep {
  /** The file to boot (in the cache). */
  file: string;
  layer: PrebuiltLayer;
  boot: BootProtocol;
  /** Linux: the kernel release, which names /lib/modules/<release>. */
  release?: string;
  cached: boolean;
  /** One line for the build output. */
  note: string;
}

interface KernelMeta {
  boot: BootProtocol;
  release?: string;
  layer: Omit<PrebuiltLayer, 'path'>;
  note: string;
}

/** The newest /boot/vmlinuz-* (Debian's linux-image-amd64), for linux images without "kernel". */
export function defaultLinuxKernel(bootDir = '/boot'): string {
  let names: string[] = [];
  try {
    names = readdirSync(bootDir).filter((n) => n.startsWith('vmlinuz-'));
  } catch {
    // no /boot
  }
  names.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  if (names.length === 0) {
    throw invalid(`no kernel given and none in ${bootDir}: install Debian's kernel (apt-get install linux-image-amd64) or set "kernel" in the Cunikfile`, 'kernel');
  }
  return join(bootDir, names[0]!);
}

function head(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(0x210);
    const n = readSync(fd, b, 0, b.length, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export async function kernelStep(cache: BuildCache, src: string, family: string, noCache: boolean, gzipLevel = 1): Promise<KernelStep> {
  let digest: string;
  try {
    digest = await fileDigest(src);
  } catch (err) {
    throw invalid(`kernel: cannot read ${src}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'kernel');
  }
  const linux = family === 'linux';
  const key = digestOf({ step: linux ? 'linux-kernel' : 'kernel', v: BUILDER_VERSION, digest, gzipLevel });
  const entry = await cache.get<KernelMeta>(key, noCache, async (dir) => {
    const file = join(dir, 'kernel');
    let boot: BootProtocol;
    let release: string | undefined;
    let note: string;
    if (linux && isBzImage(head(src))) {
      const t0 = Date.now();
      const x = await extractVmlinux(src, file);
      boot = 'linux';
      release = x.version;
      note = `extracted the ${x.compression}-compressed vmlinux (${release ?? 'unknown release'}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    } else {
      await copyFile(src, file, fsConstants.COPYFILE_FICLONE); // never link: the store makes its files read-only
      boot = detectKernelFormatFile(file).boot;
      if (linux) {
        if (boot !== 'pvh') throw invalid(`kernel: ${src} is neither a bzImage nor a vmlinux with a PVH note`, 'kernel');
        boot = 'linux';
        release = vmlinuxVersion(file);
      }
      note = `${boot} kernel${release ? ` (${release})` : ''}`;
    }
    const layer = await writeLayer([['cunik/kernel', file]], join(dir, 'layer'), gzipLevel);
    return { boot, ...(release !== undefined && { release }), layer, note };
  });
  return {
    file: join(entry.dir, 'kernel'),
    layer: { ...entry.meta.layer, path: join(entry.dir, 'layer') },
    boot: entry.meta.boot,
    ...(entry.meta.release !== undefined && { release: entry.meta.release }),
    cached: entry.hit,
    note: entry.meta.note,
  };
}
