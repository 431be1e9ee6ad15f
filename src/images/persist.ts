// The image store's on-disk index (repositories.json) and what opening the store does:
// rebuild the in-memory records from the blobs, then sweep leftovers of interrupted work.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CunikError } from '../errors.js';
import { digestHex, type BlobStore } from './blobs.js';
import { atomicWriteFileSync, removeQuiet, TMP_PREFIX } from './fsutil.js';
import {
  checkConfig, checkManifest, cunikMeta, parseJson, type CunikMeta, type ImageConfig, type Manifest,
} from './oci.js';
import type { ImageIndexState, ImageRecord } from './state.js';

interface StoredIndex {
  version: 1;
  /** manifest digest → { id: config digest } */
  images: Record<string, { id: string }>;
  /** "name:tag" → manifest digest */
  references: Record<string, string>;
}

export function makeRecord(
  digest: string, manifestSize: number, manifest: Manifest, config: ImageConfig, meta: CunikMeta,
): ImageRecord {
  const id = manifest.config.digest;
  return {
    digest,
    id,
    manifest,
    manifestSize,
    config,
    meta,
    blobs: [digest, id, ...manifest.layers.map((l) => l.digest)],
    size: manifestSize + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
    created: config.created ?? new Date(0).toISOString(),
  };
}

export function writeIndex(path: string, state: ImageIndexState): void {
  const images: Record<string, { id: string }> = {};
  for (const r of state.all().sort((a, b) => a.digest.localeCompare(b.digest))) images[r.digest] = { id: r.id };
  const references: Record<string, string> = {};
  for (const [k, v] of [...state.refs()].sort(([a], [b]) => a.localeCompare(b))) references[k] = v;
  const doc: StoredIndex = { version: 1, images, references };
  atomicWriteFileSync(path, JSON.stringify(doc, null, 2) + '\n');
}

/** Fill `state` from the index file and the blobs. Returns warnings for skipped images. */
export function readIndex(path: string, blobs: BlobStore, state: ImageIndexState): string[] {
  const warnings: string[] = [];
  if (!existsSync(path)) return warnings;
  let raw: Partial<StoredIndex>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<StoredIndex>;
  } catch (err) {
    throw new CunikError('INTERNAL', `image store index ${path} is unreadable: ${(err as Error).message}`);
  }
  for (const digest of Object.keys(raw.images ?? {})) {
    try {
      const mbuf = blobs.readSync(digest);
      const manifest = checkManifest(parseJson(mbuf, `manifest ${digest}`), `manifest ${digest}`);
      const cd = manifest.config.digest;
      const config = checkConfig(parseJson(blobs.readSync(cd), `config ${cd}`), `config ${cd}`);
      for (const l of manifest.layers) if (!blobs.has(l.digest)) throw new Error(`layer ${l.digest} is missing`);
      state.addImage(makeRecord(digest, mbuf.length, manifest, config, cunikMeta(config, manifest, `image ${digest}`)));
    } catch (err) {
      warnings.push(`skipping image ${digest}: ${(err as Error).message}`);
    }
  }
  for (const [ref, digest] of Object.entries(raw.references ?? {})) {
    if (state.byDigest(digest)) state.setRef(ref, digest);
  }
  return warnings;
}

/** Remove staging areas, temp files, and blobs / unpacked dirs that no image refers to. */
export function sweep(dirs: { root: string; tmp: string; unpacked: string }, blobs: BlobStore, state: ImageIndexState): void {
  for (const name of readdirSync(dirs.tmp)) removeQuiet(join(dirs.tmp, name));
  for (const name of readdirSync(dirs.root)) if (name.startsWith(TMP_PREFIX)) removeQuiet(join(dirs.root, name));
  const used = new Set(state.all().flatMap((r) => r.blobs));
  const { digests, junk } = blobs.scan();
  junk.forEach(removeQuiet);
  for (const d of digests) if (!used.has(d)) blobs.deleteSync(d);
  const keep = new Set(state.all().map((r) => digestHex(r.digest)));
  for (const name of readdirSync(dirs.unpacked)) if (!keep.has(name)) removeQuiet(join(dirs.unpacked, name));
}
