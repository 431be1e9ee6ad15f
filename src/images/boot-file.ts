// cunik/boot.json: an image's boot facts as a file beside its boot files, for a runtime that sees
// only the unpacked root filesystem (containerd's shims, issue 14). Made from the same labels the
// image config carries (one source of truth), so the two never disagree. The store also keeps one
// in each unpacked image directory: for an image made by another tool it holds the facts mapped
// from that tool's annotations and files (images/foreign.ts), read again when the store opens.
// Format: docs/images.md, "cunik/boot.json".

import { invalid } from '../errors.js';
import { LAYER_FILES } from './oci.js';

export const BOOT_FILE = 'cunik/boot.json';
/** Name of the copy in an unpacked image directory. */
export const UNPACKED_BOOT_FILE = 'boot.json';
export const BOOT_FILE_VERSION = 1;
export const BOOT_FILE_MAX = 256 * 1024;

export interface BootFile {
  version: 1;
  /** The image's org.cunik.* labels, as in its config (family, boot, args, memory, cpus, family facts). */
  labels: Record<string, string>;
  /** The image's environment (the config's Env). */
  env: string[];
  /** Root-relative paths of the boot files in the image's layers. */
  kernel?: string;
  initrd?: string;
  disk?: string;
}

/** The boot file for an image with these labels and env and these boot files (sorted keys: same facts, same bytes). */
export function bootFile(labels: Record<string, string>, env: readonly string[], files: { kernel?: boolean; initrd?: boolean; disk?: boolean }): Buffer {
  const own = Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith('org.cunik.')).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const doc: BootFile = {
    version: BOOT_FILE_VERSION,
    labels: own,
    env: [...env],
    ...(files.kernel === true && { kernel: LAYER_FILES.kernel }),
    ...(files.initrd === true && { initrd: LAYER_FILES.initrd }),
    ...(files.disk === true && { disk: LAYER_FILES.disk }),
  };
  return Buffer.from(JSON.stringify(doc, null, 2) + '\n');
}

/** Read a boot file back, checking its shape (the store's own copy is checked like any other). */
export function parseBootFile(buf: Buffer, what: string): BootFile {
  if (buf.length > BOOT_FILE_MAX) throw invalid(`${what} is larger than ${BOOT_FILE_MAX} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw invalid(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  const o = v as Partial<BootFile> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o) || o.version !== BOOT_FILE_VERSION) throw invalid(`${what}: not a version ${BOOT_FILE_VERSION} boot file`);
  if (typeof o.labels !== 'object' || o.labels === null || Array.isArray(o.labels) || !Object.entries(o.labels).every(([k, x]) => k.startsWith('org.cunik.') && typeof x === 'string')) {
    throw invalid(`${what}: labels must map org.cunik.* keys to strings`);
  }
  if (!Array.isArray(o.env) || !o.env.every((e) => typeof e === 'string')) throw invalid(`${what}: env must be an array of strings`);
  for (const k of ['kernel', 'initrd', 'disk'] as const) {
    if (o[k] !== undefined && o[k] !== LAYER_FILES[k]) throw invalid(`${what}: ${k} must be ${LAYER_FILES[k]}`);
  }
  return o as BootFile;
}
