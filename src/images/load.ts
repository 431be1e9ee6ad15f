// From a staged OCI layout (blobs verified, index.json parsed) to the images it holds:
// manifests and configs checked, org.cunik.* labels required, names taken from the index
// annotations, boot files unpacked and checked. Nothing here touches the store itself.

import { statSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { invalid, CunikError } from '../errors.js';
import type { Staging } from './blobs.js';
import { detectKernelFormatFile } from './kernel-format.js';
import {
  ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, ARCHITECTURE,
  checkConfig, checkIndex, checkManifest, cunikMeta, isIndexType, isManifestType, layerCompression, parseJson,
  type CunikMeta, type Descriptor, type ImageConfig, type Manifest,
} from './oci.js';
import { isTag, parseReference } from './reference.js';
import { extractBootFiles, type LayerSource } from './unpack.js';

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

/** Pick the amd64 image manifest out of a nested index. */
function pickFromIndex(staging: Staging, d: Descriptor): Descriptor {
  const path = stagedBlob(staging, d, 'image index');
  const idx = checkIndex(parseJson(readFileSync(path), `image index ${d.digest}`), `image index ${d.digest}`);
  const candidates = idx.manifests.filter((m) => isManifestType(m.mediaType) &&
    (m.platform === undefined || m.platform.architecture === ARCHITECTURE));
  const chosen = candidates[0];
  if (chosen === undefined) throw invalid(`image index ${d.digest} has no ${ARCHITECTURE} image manifest`);
  return chosen;
}

async function loadOne(
  staging: Staging, desc: Descriptor, label: string, knownFamilies: readonly string[],
): Promise<Omit<LoadedImage, 'refs'>> {
  const manifestPath = stagedBlob(staging, desc, 'manifest');
  const manifest = checkManifest(parseJson(readFileSync(manifestPath), `manifest ${desc.digest}`), `manifest ${desc.digest}`);
  const configPath = stagedBlob(staging, manifest.config, 'config');
  const config = checkConfig(parseJson(readFileSync(configPath), `config ${manifest.config.digest}`), `config ${manifest.config.digest}`);
  const meta = cunikMeta(config, manifest, label);
  if (!knownFamilies.includes(meta.family)) {
    throw invalid(`${label}: unknown family: ${meta.family} (known: ${knownFamilies.join(', ')})`, 'family');
  }
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw invalid(`${label}: the config lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`);
  }
  const layers: LayerSource[] = manifest.layers.map((l, i) => ({
    path: stagedBlob(staging, l, 'layer'),
    compression: layerCompression(l.mediaType),
    diffId: diffIds[i]!,
    digest: l.digest,
  }));
  const dir = await staging.unpackDir(desc.digest);
  const present = await extractBootFiles(layers, dir);
  if (present.has('kernel')) {
    try {
      detectKernelFormatFile(join(dir, 'kernel'));
    } catch (err) {
      if (err instanceof CunikError) throw invalid(`${label}: ${err.message}`);
      throw err;
    }
  } else if (!(meta.boot === 'disk' && present.has('disk.img'))) {
    throw invalid(`${label}: its layers hold no cunik/kernel`);
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
