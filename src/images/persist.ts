// The image store's on-disk index (repositories.json) and what opening the store does:
// rebuild the in-memory records from the blobs (verified as read), then sweep leftovers of
// interrupted work. Nothing a damaged index or image names is ever swept.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { digestHex, type BlobStore } from './blobs.js';
import { atomicWriteFileSync, removeQuiet, TMP_PREFIX } from './fsutil.js';
import {
  checkConfig, checkManifest, cunikMeta, isManifestType, parseJson, type CunikMeta, type ImageConfig, type Manifest,
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

/** Write the index; images that could not be read stay in it (with their names) until repaired. */
export function writeIndex(path: string, state: ImageIndexState, broken: readonly BrokenImage[] = []): void {
  const entries: [string, string][] = state.all().map((r) => [r.digest, r.id]);
  for (const b of broken) if (!state.byDigest(b.digest)) entries.push([b.digest, b.id]);
  const images: Record<string, { id: string }> = {};
  for (const [digest, id] of entries.sort(([a], [b]) => a.localeCompare(b))) images[digest] = { id };
  const refs = new Map(state.refs());
  for (const b of broken) for (const ref of b.refs) if (!refs.has(ref)) refs.set(ref, b.digest);
  const references: Record<string, string> = {};
  for (const [k, v] of [...refs].sort(([a], [b]) => a.localeCompare(b))) references[k] = v;
  const doc: StoredIndex = { version: 1, images, references };
  atomicWriteFileSync(path, JSON.stringify(doc, null, 2) + '\n');
}

/** An image the index names that cannot be used: kept on disk (never swept) and reported. */
export interface BrokenImage {
  /** Manifest digest. */
  digest: string;
  /** Its id as the index has it (may be empty). */
  id: string;
  /** Its names in the index. */
  refs: string[];
  problem: string;
  /** The blobs it refers to, as far as they could be read (kept by the sweep). */
  blobs: string[];
}

export interface IndexReport {
  /** One line each, naming the image. */
  warnings: string[];
  broken: BrokenImage[];
  /** false when the index itself was unusable: nothing may then be swept as unreferenced. */
  indexRead: boolean;
}

const StoredIndexSchema = Type.Object({
  version: Type.Literal(1),
  images: Type.Record(Type.String({ pattern: '^sha256:[a-f0-9]{64}$' }), Type.Object({ id: Type.String() })),
  references: Type.Record(Type.String(), Type.String()),
});
const indexValidator = Compile(StoredIndexSchema);

const sha256 = (buf: Buffer): string => `sha256:${createHash('sha256').update(buf).digest('hex')}`;

/** A blob read whole and checked against its digest (manifests and configs: small). */
function readVerified(blobs: BlobStore, digest: string, what: string): Buffer {
  let buf: Buffer;
  try {
    buf = blobs.readSync(digest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `its ${what} ${digest} is missing` : `its ${what} ${digest} cannot be read (${code ?? (err as Error).message})`);
  }
  const actual = sha256(buf);
  if (actual !== digest) throw new Error(`its ${what} ${digest} is corrupt (the content's digest is ${actual})`);
  return buf;
}

/**
 * Fill `state` from the index file and the blobs. Manifests and configs are verified against
 * their digests as they are read; layers must be there at their descriptor's size (they are
 * hashed when exported, and by `cunik system check`). An image that fails is reported in one line
 * naming it and kept on disk. An index that is not JSON or not of its schema is moved aside to
 * `quarantineDir`, and the images are recovered untagged from the manifests among the blobs.
 */
export function readIndex(
  path: string, blobs: BlobStore, state: ImageIndexState, quarantineDir: string,
  /** The facts kept for an image made by another tool (its unpacked boot.json), by manifest digest. */
  derived: (manifestDigest: string) => Record<string, string> | undefined = () => undefined,
): IndexReport {
  const report: IndexReport = { warnings: [], broken: [], indexRead: true };
  if (!existsSync(path)) return report;
  let raw: Static<typeof StoredIndexSchema> | undefined;
  let why: string | undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (indexValidator.Check(value)) raw = value;
    else why = `${indexValidator.Errors(value)[0]?.instancePath || 'the index'}: ${indexValidator.Errors(value)[0]?.message ?? 'not an image index'}`;
  } catch (err) {
    why = (err as Error).message;
  }
  if (raw === undefined) {
    mkdirSync(quarantineDir, { recursive: true, mode: 0o700 });
    const aside = join(quarantineDir, `repositories.json-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    renameSync(path, aside);
    report.indexRead = false;
    const found = blobs.scan().digests.filter((d) => isManifestBlob(blobs, d));
    report.warnings.push(`the image index is damaged (${why}): moved to ${aside}; ${found.length} image(s) recovered without their names`);
    raw = { version: 1, images: Object.fromEntries(found.map((d) => [d, { id: '' }])), references: {} };
  }
  const refsOf = (digest: string): string[] => Object.entries(raw!.references).filter(([, d]) => d === digest).map(([r]) => r).sort();
  for (const digest of Object.keys(raw.images)) {
    const known: string[] = [digest];
    try {
      const mbuf = readVerified(blobs, digest, 'manifest');
      const manifest = checkManifest(parseJson(mbuf, `manifest ${digest}`), `manifest ${digest}`);
      const cd = manifest.config.digest;
      known.push(cd, ...manifest.layers.map((l) => l.digest));
      const config = checkConfig(parseJson(readVerified(blobs, cd, 'config'), `config ${cd}`), `config ${cd}`);
      for (const l of manifest.layers) {
        let size: number;
        try {
          size = blobs.size(l.digest);
        } catch {
          throw new Error(`its layer ${l.digest} is missing`);
        }
        if (size !== l.size) throw new Error(`its layer ${l.digest} is corrupt (${size} bytes, its descriptor says ${l.size})`);
      }
      state.addImage(makeRecord(digest, mbuf.length, manifest, config, cunikMeta(config, manifest, `image ${digest}`, derived(digest))));
    } catch (err) {
      const refs = refsOf(digest);
      const problem = (err as Error).message;
      report.broken.push({ digest, id: raw.images[digest]?.id ?? '', refs, problem, blobs: known.filter((d) => /^sha256:[a-f0-9]{64}$/.test(d)) });
      report.warnings.push(`image ${refs[0] ?? digest.slice(7, 19)} cannot be used: ${problem} (cunik system check --repair removes it)`);
    }
  }
  for (const [ref, digest] of Object.entries(raw.references)) {
    if (state.byDigest(digest)) state.setRef(ref, digest);
  }
  return report;
}

/** Whether a blob is an image manifest (for recovering images when the index is lost). */
function isManifestBlob(blobs: BlobStore, digest: string): boolean {
  try {
    if (blobs.size(digest) > 1 << 20) return false;
    const v = JSON.parse(blobs.readSync(digest).toString('utf8')) as { mediaType?: unknown; config?: unknown; layers?: unknown };
    checkManifest(v, 'manifest');
    return v.mediaType === undefined || isManifestType(String(v.mediaType));
  } catch {
    return false;
  }
}

/**
 * Remove staging areas, temp files, and blobs / unpacked dirs that no image refers to. Blobs of
 * broken images stay (system check --repair removes them); with an unusable index nothing is
 * taken for unreferenced.
 */
export function sweep(dirs: { root: string; tmp: string; unpacked: string }, blobs: BlobStore, state: ImageIndexState, report: IndexReport): void {
  for (const name of readdirSync(dirs.tmp)) removeQuiet(join(dirs.tmp, name));
  for (const name of readdirSync(dirs.root)) if (name.startsWith(TMP_PREFIX)) removeQuiet(join(dirs.root, name));
  const { digests, junk } = blobs.scan();
  junk.forEach(removeQuiet);
  if (!report.indexRead) return;
  const used = new Set([...state.all().flatMap((r) => r.blobs), ...report.broken.flatMap((b) => b.blobs)]);
  for (const d of digests) if (!used.has(d)) blobs.deleteSync(d);
  const keep = new Set([...state.all(), ...report.broken].map((r) => digestHex(r.digest)));
  for (const name of readdirSync(dirs.unpacked)) if (!keep.has(name)) removeQuiet(join(dirs.unpacked, name));
}
