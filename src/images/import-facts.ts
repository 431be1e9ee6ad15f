// What `cunik import` checks and records per family beyond the boot protocol: which files a
// family's image consists of, and the labels the family adapters read at run time (docs/families.md,
// "Labels"). Reads only the imported files (the staging copies).
import { readFileSync } from 'node:fs';
import { invalid } from '../errors.js';
import { solo5DevicesLabel, solo5ManifestDevices } from '../families/solo5-manifest.js';
import { unikraftLibInfo } from '../families/unikraft-libinfo.js';
import { osvDiskCmdline, type DiskFormat } from './disk-image.js';
import type { BootProtocol } from './kernel-format.js';

/** Families whose image is a disk (booted by the firmware), optionally with a kernel that boots it faster. */
const DISK_FAMILIES: ReadonlySet<string> = new Set(['nanos', 'osv']);
/** Of those, the ones an image cannot be made of a kernel alone (the kernel needs the disk). */
const KERNEL_ALONE = 'needs its disk image';

const SOLO5_MANIFEST_MAX = 64 * 1024 * 1024; // a unikernel is a few MiB; the note is read from the whole file
const UNIKRAFT_LIBINFO_MAX = SOLO5_MANIFEST_MAX;

export interface ImportedFiles {
  family: string;
  /** The kernel file, or the disk for a disk-only image. */
  kernel: string;
  boot: BootProtocol;
  /** boot 'disk': the single file's format. */
  diskFormat?: DiskFormat;
  /** A separate disk image (kernel plus disk: OSv's loader, nanos' kernel.img). */
  disk?: { path: string; format: DiskFormat };
}

/**
 * Refuse a combination of files the family cannot boot (one clear line), else return the labels
 * the family's adapter reads.
 */
export function importLabels(f: ImportedFiles): Record<string, string> {
  const isDiskFamily = DISK_FAMILIES.has(f.family);
  if (f.boot === 'disk' && !isDiskFamily) {
    throw invalid(`a ${f.family} image is a kernel, not a disk image (disk images are for ${[...DISK_FAMILIES].join(' and ')})`, 'kernel');
  }
  if (f.disk !== undefined && !isDiskFamily) throw invalid(`a ${f.family} image has no disk image (--disk is for ${[...DISK_FAMILIES].join(' and ')})`, 'disk');
  if (isDiskFamily && f.boot !== 'disk' && f.disk === undefined) {
    throw invalid(`a ${f.family} image ${KERNEL_ALONE}: cunik import --family ${f.family} --disk DISK KERNEL NAME (or the disk alone)`, 'disk');
  }
  const labels: Record<string, string> = {};
  if (isDiskFamily) {
    const disk = f.disk ?? { path: f.kernel, format: f.diskFormat ?? 'raw' };
    labels['org.cunik.disk-format'] = disk.format;
    if (f.family === 'osv') {
      const cmdline = osvDiskCmdline(disk.path, disk.format);
      if (cmdline !== undefined) labels['org.cunik.osv.cmdline'] = cmdline;
    }
  }
  if (f.family === 'solo5') Object.assign(labels, solo5Labels(f.kernel));
  if (f.family === 'unikraft') Object.assign(labels, unikraftLabels(f.kernel));
  return labels;
}

/**
 * A Unikraft kernel lists its linked libraries in .uk_libinfo (0.16+); the adapter attaches a NIC
 * and passes library parameters only when the libraries that read them are there. A kernel
 * without the section (older, or too large to read) gets no label and today's defaults.
 */
function unikraftLabels(kernel: string): Record<string, string> {
  const elf = readFileSync(kernel);
  const info = elf.length <= UNIKRAFT_LIBINFO_MAX ? unikraftLibInfo(elf) : undefined;
  if (info === undefined || info.libs.length === 0) return {};
  return {
    'org.cunik.unikraft.libs': info.libs.join(','),
    ...(info.version !== undefined && { 'org.cunik.unikraft.version': info.version }),
  };
}

/**
 * A Solo5 unikernel declares its devices in its manifest note; the adapter attaches exactly those.
 * Each block device is also an image volume at /NAME, so `run` gives it an anonymous volume unless
 * `-v VOLUME:/NAME` names one (as Docker's VOLUME).
 */
function solo5Labels(kernel: string): Record<string, string> {
  const elf = readFileSync(kernel);
  if (elf.length > SOLO5_MANIFEST_MAX) throw invalid(`a solo5 unikernel of ${elf.length} bytes is too large to read its manifest`, 'kernel');
  const devices = solo5ManifestDevices(elf);
  if (devices === undefined) throw invalid('not a Solo5 unikernel: its ELF has no Solo5 manifest (.note.solo5.manifest)', 'kernel');
  for (const d of devices) {
    if (!/^[A-Za-z0-9_-]{1,67}$/.test(d.name)) throw invalid(`the Solo5 manifest names a device ${JSON.stringify(d.name)}: names are letters, digits, _ and -`, 'kernel');
  }
  const labels: Record<string, string> = { 'org.cunik.solo5.devices': solo5DevicesLabel(devices) };
  const blocks = devices.filter((d) => d.type === 'block').map((d) => `/${d.name}`);
  if (blocks.length > 0) labels['org.cunik.volumes'] = JSON.stringify(blocks);
  return labels;
}
