// Assemble a Cunik OCI image from boot files: one uncompressed tar layer holding cunik/kernel
// (and optionally cunik/initrd, cunik/disk.img), one holding cunik/boot.json (the same facts as
// the labels, for runtimes that see only the root filesystem), an OCI image config carrying the
// org.cunik.* labels, and a manifest carrying the same keys as annotations. Everything goes into a
// staging area; the store commits it.

import { createReadStream, constants as fsConstants } from 'node:fs';
import { copyFile, link, stat } from 'node:fs/promises';
import { pack as tarPack, type Pack } from 'tar-stream';
import type { Staging, StagedBlob } from './blobs.js';
import { bytesOf } from './fsutil.js';
import { invalid } from '../errors.js';
import { inRange, LIMITS, rangeText, type Range } from '../api/limits.js';
import type { ImportOptions } from './types.js';
import { BOOT_FILE, bootFile } from './boot-file.js';
import {
  MT, LABEL, LAYER_FILES, ARCHITECTURE, OS, ANNOTATION_CREATED, DEFAULT_CPUS,
  type CunikMeta, type ImageConfig, type Manifest,
} from './oci.js';

export interface BootFiles {
  kernel: string;
  initrd?: string;
  disk?: string;
}

export interface BuiltImage {
  manifestDigest: string;
  manifest: Manifest;
  configDigest: string;
  config: ImageConfig;
  /** Every blob of the image: manifest, config, layers. */
  blobs: string[];
}

/** Fixed mtime so the same files always give the same layer digest. */
const EPOCH = new Date(0);

function addFileEntry(pack: Pack, name: string, path: string, size: number, mode: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry({ name, size, mode, mtime: EPOCH, uid: 0, gid: 0, type: 'file' }, (err) =>
      err ? reject(err) : resolve());
    const src = createReadStream(path);
    src.on('error', (err) => {
      sink.destroy(err);
      reject(err);
    });
    src.pipe(sink);
  });
}

function addDirEntry(pack: Pack, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, type: 'directory', mode: 0o755, mtime: EPOCH, uid: 0, gid: 0 }, (err) =>
      err ? reject(err) : resolve());
  });
}

/** Write an uncompressed tar of the boot files into the staging area; returns its blob. */
export async function stageLayer(staging: Staging, files: BootFiles): Promise<StagedBlob> {
  const pack = tarPack();
  const entries: [string, string | undefined][] = [
    [LAYER_FILES.kernel, files.kernel],
    [LAYER_FILES.initrd, files.initrd],
    [LAYER_FILES.disk, files.disk],
  ];
  const producing = (async () => {
    await addDirEntry(pack, 'cunik/');
    for (const [name, path] of entries) {
      if (path === undefined) continue;
      const st = await stat(path);
      await addFileEntry(pack, name, path, st.size, 0o644);
    }
    pack.finalize();
  })();
  producing.catch((err: Error) => pack.destroy(err));
  const [blob] = await Promise.all([staging.addStream(bytesOf(pack)), producing]);
  return blob;
}

export function labelsFor(meta: Omit<CunikMeta, 'labels' | 'env'>): Record<string, string> {
  return {
    [LABEL.family]: meta.family,
    [LABEL.boot]: meta.boot,
    [LABEL.args]: JSON.stringify(meta.args),
    [LABEL.memory]: String(meta.memoryMiB),
    [LABEL.cpus]: String(meta.cpus),
  };
}

/**
 * The layer holding cunik/boot.json (boot-file.ts): its own small layer, so images of the same
 * kernel with other labels still share the kernel's layer.
 */
export async function stageBootFileLayer(staging: Staging, body: Buffer): Promise<StagedBlob> {
  const pack = tarPack();
  const producing = (async () => {
    await addDirEntry(pack, 'cunik/');
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name: BOOT_FILE, size: body.length, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0, type: 'file' }, body, (err) => (err ? reject(err) : resolve()));
    });
    pack.finalize();
  })();
  producing.catch((err: Error) => pack.destroy(err));
  const [blob] = await Promise.all([staging.addStream(bytesOf(pack)), producing]);
  return blob;
}

/** Stage layers (boot files, then cunik/boot.json made from the same labels), config and manifest for a kernel image. */
export async function stageImage(
  staging: Staging,
  files: BootFiles,
  meta: Omit<CunikMeta, 'labels' | 'env'>,
  createdBy: string,
  extraLabels: Record<string, string> = {},
): Promise<BuiltImage> {
  const created = new Date().toISOString();
  const layer = await stageLayer(staging, files);
  const labels = { ...extraLabels, ...labelsFor(meta) };
  const env: string[] = [];
  const boot = await stageBootFileLayer(staging, bootFile(labels, env, { kernel: true, initrd: files.initrd !== undefined, disk: files.disk !== undefined }));
  const config: ImageConfig = {
    created,
    architecture: ARCHITECTURE,
    os: OS,
    config: { Labels: labels, Env: env, Cmd: meta.args },
    rootfs: { type: 'layers', diff_ids: [layer.digest, boot.digest] },
    history: [{ created, created_by: createdBy, comment: 'cunik image import' }, { created, created_by: createdBy, comment: BOOT_FILE }],
  };
  const layers = [layer, boot].map((l) => ({ mediaType: MT.layerTar, digest: l.digest, size: l.size }));
  return stageManifest(staging, config, JSON.stringify(config), layers, { ...labels, [ANNOTATION_CREATED]: created });
}

/** Stage the config (as given) and a manifest over it and the already staged layers. */
async function stageManifest(
  staging: Staging,
  config: ImageConfig,
  configJson: string,
  layers: { mediaType: string; digest: string; size: number }[],
  annotations: Record<string, string>,
): Promise<BuiltImage> {
  const configBlob = await staging.addBuffer(Buffer.from(configJson));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: { mediaType: MT.config, digest: configBlob.digest, size: configBlob.size },
    layers,
    annotations,
  };
  const manifestBlob = await staging.addBuffer(Buffer.from(JSON.stringify(manifest)));
  return {
    manifestDigest: manifestBlob.digest,
    manifest,
    configDigest: configBlob.digest,
    config,
    blobs: [manifestBlob.digest, configBlob.digest, ...layers.map((l) => l.digest)],
  };
}

export type ImportMeta = Omit<CunikMeta, 'boot' | 'labels' | 'env' | 'memoryMiB'> & { memoryMiB?: number };

/** Check import options; unknown family, bad args/memory/cpus → invalid(...) naming the field. */
export function validateImportOptions(opts: ImportOptions, knownFamilies: readonly string[]): ImportMeta {
  if (typeof opts?.family !== 'string' || !knownFamilies.includes(opts.family)) {
    throw invalid(`unknown family: ${opts?.family} (known: ${knownFamilies.join(', ')})`, 'family');
  }
  const args = opts.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
    throw invalid('args must be an array of strings', 'args');
  }
  const int = (v: number | undefined, field: string, range: Range): number | undefined => {
    if (v === undefined) return undefined;
    if (!inRange(v, range)) throw invalid(`${field} must be an integer ${rangeText(range)}, got ${v}`, field);
    return v;
  };
  const out: ImportMeta = {
    family: opts.family,
    args: [...args],
    cpus: int(opts.cpus, 'cpus', LIMITS.cpus) ?? DEFAULT_CPUS,
  };
  const mem = int(opts.memoryMiB, 'memoryMiB', LIMITS.memoryMiB);
  if (mem !== undefined) out.memoryMiB = mem;
  return out;
}

/** A layer blob made elsewhere (the build cache): its file, digests and media type. */
export interface PrebuiltLayer {
  path: string;
  digest: string;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  size: number;
  mediaType: string;
}

/** Hard-link (or copy, across file systems) a finished file into the staging area. */
export async function linkInto(src: string, dest: string): Promise<void> {
  try {
    await link(src, dest);
  } catch {
    await copyFile(src, dest, fsConstants.COPYFILE_FICLONE);
  }
}

/**
 * Stage a built image: prebuilt layers (linked, not copied), the config exactly as given (so a
 * cached build gives the same image id) and a manifest carrying the org.cunik.* labels.
 */
export async function stageBuilt(staging: Staging, layers: PrebuiltLayer[], configJson: string): Promise<BuiltImage> {
  const config = JSON.parse(configJson) as ImageConfig;
  for (const l of layers) {
    if (!staging.hasBlob(l.digest)) {
      const tmp = staging.scratch('layer');
      await linkInto(l.path, tmp);
      staging.adopt(tmp, l.digest, l.size);
    }
  }
  const labels = Object.fromEntries(Object.entries(config.config?.Labels ?? {}).filter(([k]) => k.startsWith('org.cunik.')));
  const manifestLayers = layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
  return stageManifest(staging, config, configJson, manifestLayers, { ...labels, ...(config.created !== undefined && { [ANNOTATION_CREATED]: config.created }) });
}
