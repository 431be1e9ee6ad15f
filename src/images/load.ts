// From a staged OCI layout (blobs verified, index.json parsed) to the images it holds:
// manifests and configs checked, org.cunik.* labels required (or mapped from another tool's
// layout: images/foreign.ts), names taken from the index annotations, boot files unpacked and
// checked. Nothing here touches the store itself.

import { statSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalid, CunikError } from '../errors.js';
import type { Staging } from './blobs.js';
import { detectKernelFormatFile } from './kernel-format.js';
import {
  ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, LABEL,
  checkConfig, checkIndex, checkManifest, cunikMeta, isIndexType, isManifestType, layerCompression, parseJson, pickPlatform,
  type CunikMeta, type Descriptor, type ImageConfig, type Manifest,
} from './oci.js';
import { BOOT_FILE, BOOT_FILE_MAX, bootFile, parseBootFile, UNPACKED_BOOT_FILE } from './boot-file.js';
import { kraftkitImage, parseUruncJson, uruncAnnotations, uruncImage, URUNC_JSON, URUNC_JSON_MAX } from './foreign.js';
import { importLabels } from './import-facts.js';
import { isTag, parseReference } from './reference.js';
import { extractLayers, type LayerSource } from './unpack.js';

export interface LoadedImage {
  manifestDigest: string;
  manifestSize: number;
  manifest: Manifest;
  configDigest: string;
  config: ImageConfig;
  meta: CunikMeta;
  /** manifest, config and layer digests. */
  blobs: string[];
  /** "name:tag" references from the index annotations. */
  refs: string[];
}

function stagedBlob(staging: Staging, d: Descriptor, what: string): string {
  const path = staging.blobPath(d.digest);
  if (path === undefined) throw invalid(`${what} ${d.digest} is listed but missing from the archive`);
  const size = statSync(path).size;
  if (size !== d.size) throw invalid(`${what} ${d.digest}: size ${size} does not match the descriptor's ${d.size}`);
  return path;
}

/** The "name:tag" an index entry names, Docker/containerd style, if any. */
export function refFromAnnotations(ann: Record<string, string> | undefined): string | undefined {
  if (!ann) return undefined;
  const tagged = (s: string): string | undefined => {
    try {
      const r = parseReference(s);
      return r.tag !== undefined ? `${r.name}:${r.tag}` : undefined;
    } catch {
      return undefined;
    }
  };
  const full = ann[ANNOTATION_CONTAINERD_NAME];
  if (full !== undefined) {
    const r = tagged(full);
    if (r !== undefined) return r;
  }
  const refName = ann[ANNOTATION_REF_NAME];
  // A bare tag ("latest") names no repository; skopeo writes "name:tag" here.
  if (refName !== undefined && !isTag(refName)) return tagged(refName);
  return undefined;
}

/** Pick this host's image manifest out of a nested index (KraftKit's qemu/x86_64 entries too). */
function pickFromIndex(staging: Staging, d: Descriptor): Descriptor {
  const path = stagedBlob(staging, d, 'image index');
  const idx = checkIndex(parseJson(readFileSync(path), `image index ${d.digest}`), `image index ${d.digest}`);
  return pickPlatform(idx.manifests, `image index ${d.digest}`);
}

/** Whether the image carries Cunik's own labels (config labels or manifest annotations). */
const isCunikImage = (config: ImageConfig, manifest: Manifest): boolean =>
  config.config?.Labels?.[LABEL.family] !== undefined || manifest.annotations?.[LABEL.family] !== undefined;

function kernelFormat(dir: string, label: string): ReturnType<typeof detectKernelFormatFile> {
  try {
    return detectKernelFormatFile(join(dir, 'kernel'));
  } catch (err) {
    if (err instanceof CunikError) throw invalid(`${label}: ${err.message}`);
    throw err;
  }
}

/**
 * An image made by another tool (KraftKit, urunc): its boot files extracted from where that tool
 * puts them, its org.cunik.* facts mapped from its annotations and files, and those facts written
 * as the unpacked directory's boot.json (what the store reads again when it opens).
 */
async function loadForeign(layers: LayerSource[], dir: string, config: ImageConfig, manifest: Manifest, label: string): Promise<Record<string, string>> {
  let foreign = kraftkitImage(config, manifest, label) ??
    uruncImage(uruncAnnotations(manifest.annotations, config.config?.Labels ?? undefined), config, label);
  if (foreign === undefined) {
    // urunc's file in the root filesystem, for images whose annotations do not say it.
    const { captured } = await extractLayers(layers, dir, { targets: {}, capture: URUNC_JSON, captureMax: URUNC_JSON_MAX });
    if (captured !== undefined) foreign = uruncImage(parseUruncJson(captured, label), config, label);
  }
  if (foreign === undefined) cunikMeta(config, manifest, label); // says what is missing
  const f = foreign!;
  const targets: Record<string, string> = { [f.files.kernel]: 'kernel' };
  if (f.files.initrd !== undefined) {
    if (f.files.initrd === f.files.kernel) throw invalid(`${label}: the initrd and the kernel are the same file /${f.files.kernel}`);
    targets[f.files.initrd] = 'initrd';
  }
  const present = await extractLayers(layers, dir, { targets }).then((r) => r.present);
  if (!present.has('kernel')) throw invalid(`${label}: a ${f.format} image whose layers hold no kernel at /${f.files.kernel}`);
  if (f.files.initrd !== undefined && !present.has('initrd') && !f.optional.includes('initrd')) {
    throw invalid(`${label}: a ${f.format} image whose layers hold no initrd at /${f.files.initrd}`);
  }
  const { boot, diskFormat } = kernelFormat(dir, label);
  const family = f.labels[LABEL.family]!;
  const labels: Record<string, string> = { ...f.labels, [LABEL.boot]: boot };
  try {
    Object.assign(labels, importLabels({ family, kernel: join(dir, 'kernel'), boot, ...(diskFormat && { diskFormat }) }));
  } catch (err) {
    if (err instanceof CunikError) throw invalid(`${label}: ${err.message}`);
    throw err;
  }
  const meta = cunikMeta(config, manifest, label, labels);
  writeFileSync(join(dir, UNPACKED_BOOT_FILE), bootFile(labels, meta.env, { kernel: true, initrd: present.has('initrd') }), { mode: 0o644 });
  return labels;
}

async function loadOne(
  staging: Staging, desc: Descriptor, label: string, knownFamilies: readonly string[],
): Promise<Omit<LoadedImage, 'refs'>> {
  const manifestPath = stagedBlob(staging, desc, 'manifest');
  const manifest = checkManifest(parseJson(readFileSync(manifestPath), `manifest ${desc.digest}`), `manifest ${desc.digest}`);
  const configPath = stagedBlob(staging, manifest.config, 'config');
  const config = checkConfig(parseJson(readFileSync(configPath), `config ${manifest.config.digest}`), `config ${manifest.config.digest}`);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw invalid(`${label}: the config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`);
  }
  const own = isCunikImage(config, manifest);
  if (own) checkFamily(cunikMeta(config, manifest, label).family, label, knownFamilies);
  const layers: LayerSource[] = manifest.layers.map((l, i) => ({
    path: stagedBlob(staging, l, 'layer'),
    compression: layerCompression(l.mediaType),
    diffId: diffIds[i]!,
    digest: l.digest,
  }));
  const dir = await staging.unpackDir(desc.digest);
  let meta: CunikMeta;
  if (own) {
    meta = cunikMeta(config, manifest, label);
    const { present, captured } = await extractLayers(layers, dir, { capture: BOOT_FILE, captureMax: BOOT_FILE_MAX });
    if (captured !== undefined) checkBootFile(captured, meta, label);
    if (present.has('kernel')) kernelFormat(dir, label);
    else if (!(meta.boot === 'disk' && present.has('disk.img'))) throw invalid(`${label}: its layers hold no cunik/kernel`);
  } else {
    meta = cunikMeta(config, manifest, label, await loadForeign(layers, dir, config, manifest, label));
    checkFamily(meta.family, label, knownFamilies);
  }
  return {
    manifestDigest: desc.digest,
    manifestSize: desc.size,
    manifest,
    configDigest: manifest.config.digest,
    config,
    meta,
    blobs: [desc.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)],
  };
}

/**
 * A Cunik image's cunik/boot.json must say what its config says (a runtime that reads only the
 * file would boot it otherwise): refused, naming the first fact that differs.
 */
function checkBootFile(buf: Buffer, meta: CunikMeta, label: string): void {
  const file = parseBootFile(buf, `${label}: ${BOOT_FILE}`);
  const own = Object.fromEntries(Object.entries(meta.labels).filter(([k]) => k.startsWith('org.cunik.')));
  const keys = [...new Set([...Object.keys(own), ...Object.keys(file.labels)])].sort();
  const differs = keys.find((k) => own[k] !== file.labels[k]);
  if (differs !== undefined) throw invalid(`${label}: ${BOOT_FILE} says ${differs} is ${JSON.stringify(file.labels[differs] ?? null)}, its config ${JSON.stringify(own[differs] ?? null)}`);
  if (JSON.stringify(file.env) !== JSON.stringify(meta.env)) throw invalid(`${label}: ${BOOT_FILE} and its config give different env`);
}

function checkFamily(family: string, label: string, knownFamilies: readonly string[]): void {
  if (!knownFamilies.includes(family)) {
    throw invalid(`${label}: unknown family: ${family} (known: ${knownFamilies.join(', ')})`, 'family');
  }
}

/**
 * The org.cunik.* facts the store keeps for an image made by another tool (its unpacked
 * boot.json), or undefined for a Cunik image or when the file is missing.
 */
export function derivedLabels(dir: string): Record<string, string> | undefined {
  const p = join(dir, UNPACKED_BOOT_FILE);
  if (!existsSync(p)) return undefined;
  return parseBootFile(readFileSync(p), p).labels;
}

/** Validate and unpack every image in a staged layout. */
export async function collectImages(
  staging: Staging,
  index: { manifests: Descriptor[] },
  knownFamilies: readonly string[],
): Promise<LoadedImage[]> {
  const byDigest = new Map<string, LoadedImage>();
  for (const top of index.manifests) {
    const ref = refFromAnnotations(top.annotations);
    let desc = top;
    if (isIndexType(top.mediaType)) desc = pickFromIndex(staging, top);
    else if (!isManifestType(top.mediaType)) continue;
    let img = byDigest.get(desc.digest);
    if (img === undefined) {
      const label = `image ${ref ?? desc.digest}`;
      img = { ...(await loadOne(staging, desc, label, knownFamilies)), refs: [] };
      byDigest.set(desc.digest, img);
    }
    if (ref !== undefined && !img.refs.includes(ref)) img.refs.push(ref);
  }
  if (byDigest.size === 0) throw invalid('the archive holds no image manifest');
  return [...byDigest.values()];
}

export const unpackedFiles = (dir: string): { kernel?: string; initrd?: string; disk?: string } => {
  const out: { kernel?: string; initrd?: string; disk?: string } = {};
  for (const [key, file] of [['kernel', 'kernel'], ['initrd', 'initrd'], ['disk', 'disk.img']] as const) {
    const p = join(dir, file);
    if (existsSync(p)) out[key] = p;
  }
  return out;
};
