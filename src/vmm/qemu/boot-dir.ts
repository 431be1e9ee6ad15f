// The folder QEMU runs in when a boot spec names its boot files (argv.ts: bootLinks): one symlink
// per named file in <instance>/boot, made before each start (left alone when it is already right),
// so that QEMU is given bare names and the guest reads no host path on its command line.
import { mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BootSpec } from '../types.js';
import { BOOT_DIR, bootLinks } from './argv.js';

/** Make <dir>/boot/<name> → the file, for each file the spec names; returns the folder, or undefined if it names none. */
export function prepareBootDir(spec: BootSpec, dir: string): string | undefined {
  const links = bootLinks(spec);
  if (links.length === 0) return undefined;
  const bootDir = join(dir, BOOT_DIR);
  mkdirSync(bootDir, { recursive: true, mode: 0o700 });
  for (const { name, target } of links) {
    const path = join(bootDir, name);
    const want = resolve(target);
    let have: string | undefined;
    try {
      have = readlinkSync(path);
    } catch {
      /* absent (or not a link: replaced below) */
    }
    if (have === want) continue;
    rmSync(path, { force: true, recursive: true });
    symlinkSync(want, path);
  }
  return bootDir;
}
