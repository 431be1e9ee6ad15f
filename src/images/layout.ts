// OCI image layout tarballs (oci-layout, index.json, blobs/sha256/<hex>): writing one from
// the store (save) and reading one into a staging area with every blob's digest verified (load).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, extract as tarExtract, type Pack } from 'tar-stream';
import { invalid } from '../errors.js';
import type { BlobStore, Staging } from './blobs.js';
import {
  MT, ARCHITECTURE, OS, ANNOTATION_REF_NAME, ANNOTATION_CONTAINERD_NAME,
  checkIndex, parseJson, type Descriptor, type ImageIndex,
} from './oci.js';
import { TarGuard } from '../util/tar-guard.js';
import { decompressor, sniffCompression } from '../util/decompress.js';
import { bytesOf } from './fsutil.js';
import type { Resolved } from './state.js';

export const OCI_LAYOUT = { imageLayoutVersion: '1.0.0' };
const MAX_JSON_BYTES = 16 << 20;
const BLOB_PATH = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/;

export interface SaveEntry {
  manifest: Descriptor;
  /** Full "name:tag", when the image was saved by name. */
  ref?: { name: string; tag: string };
}

/**
 * What a save of these images writes: one index entry per image and name (the same twice only
 * once), and every blob they use, each once, in order (manifest, config, layers).
 */
export function layoutEntries(images: Resolved[]): { entries: SaveEntry[]; digests: string[] } {
  const entries: SaveEntry[] = [];
  const digests: string[] = [];
  const seen = new Set<string>();
  for (const res of images) {
    const r = res.record;
    const key = `${r.digest} ${res.ref ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const e: SaveEntry = { manifest: { mediaType: r.manifest.mediaType ?? MT.manifest, digest: r.digest, size: r.manifestSize } };
    if (res.ref !== undefined) {
      const i = res.ref.lastIndexOf(':');
      e.ref = { name: res.ref.slice(0, i), tag: res.ref.slice(i + 1) };
    }
    entries.push(e);
    for (const d of [r.digest, r.manifest.config.digest, ...r.manifest.layers.map((l) => l.digest)]) {
      if (!digests.includes(d)) digests.push(d);
    }
  }
  return { entries, digests };
}

function entry(pack: Pack, header: Parameters<Pack['entry']>[0], body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body !== undefined) pack.entry(header, body, cb);
    else pack.entry(header, cb);
  });
}

/**
 * One blob as a tar entry, hashed while it is copied (no second read): content that does not
 * match its digest fails the entry (and so the whole archive) once its last byte is read, with a
 * BlobCorruptError naming the blob.
 */
function blobEntry(pack: Pack, name: string, path: string, size: number, digest: string): Promise<void> {
  const hash = createHash('sha256');
  const verify = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      const actual = `sha256:${hash.digest('hex')}`;
      cb(actual === digest ? null : new BlobCorruptError(digest, `its content's digest is ${actual}`));
    },
  });
  return new Promise((resolve, reject) => {
    let failed = false;
    const sink = pack.entry({ name, size, mode: 0o644, mtime: new Date(0), type: 'file' }, (err) => {
      if (!failed) (err ? reject(err) : resolve());
    });
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      sink.on('error', () => undefined); // the archive fails through `reject`
      sink.destroy(err);
      reject(err);
    };
    const src = createReadStream(path);
    src.on('error', fail);
    verify.on('error', fail);
    src.pipe(verify).pipe(sink);
  });
}

/** A stored blob whose content does not match its digest. */
export class BlobCorruptError extends Error {
  constructor(readonly digest: string, detail: string) {
    super(`blob ${digest} is corrupt (${detail})`);
  }
}

export function layoutIndex(entries: SaveEntry[]): ImageIndex {
  return {
    schemaVersion: 2,
    mediaType: MT.index,
    manifests: entries.map((e) => {
      const d: Descriptor = {
        mediaType: e.manifest.mediaType,
        digest: e.manifest.digest,
        size: e.manifest.size,
        platform: { architecture: ARCHITECTURE, os: OS },
      };
      if (e.ref) {
        d.annotations = {
          [ANNOTATION_CONTAINERD_NAME]: `${e.ref.name}:${e.ref.tag}`,
          [ANNOTATION_REF_NAME]: e.ref.tag,
        };
      }
      return d;
    }),
  };
}

/** Write an OCI layout tarball of the given manifests and blobs to `out`, then end it. */
export async function writeLayout(
  blobs: BlobStore,
  entries: SaveEntry[],
  blobDigests: string[],
  out: NodeJS.WritableStream,
): Promise<void> {
  const pack = tarPack();
  const dirHeader = (name: string) => ({ name, type: 'directory' as const, mode: 0o755, mtime: new Date(0) });
  const producing = (async () => {
    await entry(pack, { name: 'oci-layout', mode: 0o644, mtime: new Date(0) }, Buffer.from(JSON.stringify(OCI_LAYOUT)));
    await entry(pack, dirHeader('blobs/'));
    await entry(pack, dirHeader('blobs/sha256/'));
    for (const d of blobDigests) {
      await blobEntry(pack, `blobs/sha256/${d.slice('sha256:'.length)}`, blobs.path(d), blobs.size(d), d);
    }
    await entry(pack, { name: 'index.json', mode: 0o644, mtime: new Date(0) },
      Buffer.from(JSON.stringify(layoutIndex(entries))));
    pack.finalize();
  })();
  producing.catch((err: Error) => pack.destroy(err));
  await Promise.all([pipeline(pack, out), producing]);
}

/** Undo a compression transparently (docker save | gzip, *.tar.gz, .tar.xz, .tar.zst, .tar.bz2), as docker load does. */
async function maybeDecompress(input: NodeJS.ReadableStream): Promise<Readable> {
  const it = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value);
  const rest = Readable.from((async function* () {
    if (head.length > 0) yield head;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield Buffer.from(n.value);
    }
  })(), { objectMode: false });
  const kind = sniffCompression(head);
  if (kind === undefined) return rest;
  const inflate = decompressor(kind);
  rest.on('error', (err) => inflate.destroy(err));
  return rest.pipe(inflate);
}

async function readSmall(entry: AsyncIterable<Buffer | Uint8Array>, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of entry) {
    n += c.length;
    if (n > MAX_JSON_BYTES) throw invalid(`${what} is larger than ${MAX_JSON_BYTES} bytes`);
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks);
}

/**
 * Read an OCI layout tarball into `staging`: every blob is hashed while it is written and
 * refused on mismatch. Returns the top-level index.
 */
export async function readLayout(input: NodeJS.ReadableStream, staging: Staging): Promise<ImageIndex> {
  let index: ImageIndex | undefined;
  let layout: unknown;
  let sawDockerManifest = false;
  let entries = 0;
  const extract = tarExtract();
  // Blobs are kept by digest, nothing at an entry's path; names are checked all the same.
  const guard = new TarGuard({ what: 'image archive' });
  let sourceError: Error | undefined;
  try {
    const source = await maybeDecompress(input);
    // The archive's own fault (bad compressed data) comes first: the entry it cut short only says
    // that it was destroyed.
    source.on('error', (err) => {
      sourceError ??= err;
      extract.destroy(err);
    });
    source.pipe(extract);
    for await (const e of extract) {
      try {
        entries++;
        const name = guard.check(e.header).name;
        const isFile = e.header.type === 'file' || e.header.type === 'contiguous-file';
        const blob = BLOB_PATH.exec(name);
        if (isFile && name === 'oci-layout') {
          layout = parseJson(await readSmall(bytesOf(e), 'oci-layout'), 'oci-layout');
        } else if (isFile && name === 'index.json') {
          index = checkIndex(parseJson(await readSmall(bytesOf(e), 'index.json'), 'index.json'), 'index.json');
        } else if (isFile && blob) {
          const [, alg, hex] = blob;
          if (alg !== 'sha256' || hex!.length !== 64) {
            e.resume();
            continue;
          }
          await staging.addStream(bytesOf(e), `sha256:${hex}`, 'blob');
        } else {
          if (name === 'manifest.json') sawDockerManifest = true;
          e.resume();
        }
      } catch (err) {
        e.destroy(); // an unread entry holds the extract: without this, the loop's cleanup waits forever
        throw err;
      }
    }
  } catch (caught) {
    extract.destroy();
    const err = sourceError ?? caught;
    const code = (err as { code?: string }).code;
    // A full disk is no fault of the archive's.
    if (code === 'INVALID_ARGUMENT' || code === 'ENOSPC' || code === 'EDQUOT') throw err;
    throw invalid(`cannot read the image archive: ${(err as Error).message}`);
  }
  if (entries === 0) throw invalid('cannot read the image archive: it is empty or not a tar file');
  if (index === undefined) {
    throw invalid(sawDockerManifest
      ? 'not an OCI image layout: index.json missing (a legacy docker save archive; save it with Docker 25+ or skopeo copy docker-archive:... oci-archive:...)'
      : 'not an OCI image layout: index.json missing');
  }
  const version = (layout as { imageLayoutVersion?: unknown } | undefined)?.imageLayoutVersion;
  if (layout !== undefined && version !== '1.0.0') {
    throw invalid(`unsupported OCI layout version ${JSON.stringify(version)} (want 1.0.0)`);
  }
  return index;
}
