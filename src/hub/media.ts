// Manifests the registry accepts: OCI image manifests and indexes, Docker v2 schema 2 manifests
// and manifest lists. Parsing here only finds what a manifest refers to (blobs, child manifests,
// a subject); the content itself is stored byte for byte as pushed.
import { regErr } from './errors.js';
import { checkDigest } from './names.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MANIFEST_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];
const INDEX_TYPES = new Set([OCI_INDEX, DOCKER_LIST]);
/** Layers a registry is not expected to hold (Windows base layers): not checked when they carry urls. */
const FOREIGN = /\.foreign\.|nondistributable/;
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ParsedManifest {
  mediaType: string;
  /** Blobs the repository must hold (config, layers). */
  blobs: string[];
  /** Manifests the repository must hold (an index's entries). */
  manifests: string[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObj(v) || typeof v['mediaType'] !== 'string' || typeof v['digest'] !== 'string' || typeof v['size'] !== 'number' || !Number.isSafeInteger(v['size']) || v['size'] < 0) {
    throw regErr('MANIFEST_INVALID', `${where} is not a descriptor (mediaType, digest and size)`);
  }
  try {
    checkDigest(v['digest']);
  } catch {
    throw regErr('MANIFEST_INVALID', `${where} has an invalid digest`);
  }
  const d: Descriptor = { mediaType: v['mediaType'], digest: v['digest'], size: v['size'] };
  if (typeof v['artifactType'] === 'string') d.artifactType = v['artifactType'];
  if (isObj(v['annotations'])) d.annotations = v['annotations'] as Record<string, string>;
  return d;
}

/** The manifest's type: its mediaType field, else the request's Content-Type; they must agree. */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw regErr('MANIFEST_INVALID', 'manifest is not valid JSON');
  }
  if (!isObj(doc)) throw regErr('MANIFEST_INVALID', 'manifest is not a JSON object');
  const ct = contentType?.split(';')[0]!.trim();
  const field = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : undefined;
  if (field !== undefined && ct !== undefined && MANIFEST_TYPES.includes(ct) && field !== ct) {
    throw regErr('MANIFEST_INVALID', `manifest mediaType ${field} differs from Content-Type ${ct}`);
  }
  const mediaType = field ?? (ct !== undefined && MANIFEST_TYPES.includes(ct) ? ct : Array.isArray(doc['manifests']) ? OCI_INDEX : OCI_MANIFEST);
  if (!MANIFEST_TYPES.includes(mediaType)) throw regErr('MANIFEST_INVALID', `unsupported manifest media type ${JSON.stringify(mediaType)}`);
  if (doc['schemaVersion'] !== 2) throw regErr('MANIFEST_INVALID', 'manifest schemaVersion must be 2');
  const out: ParsedManifest = { mediaType, blobs: [], manifests: [] };
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc['manifests'])) throw regErr('MANIFEST_INVALID', 'index has no manifests list');
    doc['manifests'].forEach((m, i) => out.manifests.push(descriptor(m, `manifests[${i}]`).digest));
  } else {
    out.blobs.push(descriptor(doc['config'], 'config').digest);
    if (!Array.isArray(doc['layers'])) throw regErr('MANIFEST_INVALID', 'manifest has no layers list');
    doc['layers'].forEach((l, i) => {
      const d = descriptor(l, `layers[${i}]`);
      const urls = isObj(l) && Array.isArray(l['urls']) && l['urls'].length > 0;
      if (!(urls && FOREIGN.test(d.mediaType))) out.blobs.push(d.digest);
    });
  }
  if (doc['subject'] !== undefined) out.subject = descriptor(doc['subject'], 'subject');
  if (typeof doc['artifactType'] === 'string') out.artifactType = doc['artifactType'];
  else if (mediaType === OCI_MANIFEST && isObj(doc['config']) && typeof doc['config']['mediaType'] === 'string') {
    // Spec: an image manifest without artifactType lists under its config's media type.
    out.artifactType = doc['config']['mediaType'];
  }
  if (isObj(doc['annotations'])) out.annotations = doc['annotations'] as Record<string, string>;
  return out;
}
