// Pull and push of images between the store and an OCI registry. A pull stages every blob
// (verified against its digest while streamed) and commits through the store's ingest, the
// same path as a load, so an interrupted or corrupt pull leaves nothing; blobs already stored
// are linked, not fetched, and an image already present fetches no blob at all. A push checks
// each blob with HEAD first and mounts it from another repository of the same registry.

import { createReadStream } from 'node:fs';
import { CunikError, invalid } from '../errors.js';
import type { Staging } from './blobs.js';
import { downloadBlob } from './blob-download.js';
import { linkInto } from './build.js';
import {
  ANNOTATION_CONTAINERD_NAME, checkIndex, checkManifest, isIndexType, isManifestType, parseJson, pickPlatform,
  type Descriptor,
} from './oci.js';
import { parseReference, type Reference } from './reference.js';
import { RegistryClient, type Credentials, type RegistryOptions } from './registry.js';
import type { ImageStore } from './store.js';
import type { ImageSummary } from './types.js';

/** One progress line, Docker's NDJSON shape. */
export interface Progress {
  status: string;
  id?: string;
  current?: number;
  total?: number;
}

export interface TransferOptions {
  insecure?: boolean;
  credentials?: Credentials;
  /** Registry for names without one ("hello" → DEFAULT/hello). */
  defaultRegistry?: string;
  /** Docker's certs.d folder of registry CAs (registry-transport.ts). */
  certsDir?: string;
  onProgress?: (p: Progress) => void;
  /** Cancels a pull (its client went away): the blobs' bytes so far are kept for the next pull. */
  signal?: AbortSignal;
}

export interface PullResult {
  ref: string;
  digest: string;
  id: string;
  /** Blobs fetched from the registry (0 when the image was already present). */
  fetched: number;
  status: 'downloaded' | 'up to date';
}

/** Registry host and repository path of a reference. */
export function remoteOf(r: Reference, defaultRegistry?: string): { domain: string; repo: string } {
  if (r.domain !== undefined) return { domain: r.domain, repo: r.name.slice(r.domain.length + 1) };
  if (defaultRegistry === undefined || defaultRegistry === '') {
    throw invalid(`${r.name} names no registry: write it as HOST[:PORT]/${r.name} (for example localhost:5000/${r.name}), or start cunikd with --default-registry HOST[:PORT]`, 'reference');
  }
  return { domain: defaultRegistry, repo: r.name };
}

const short = (digest: string): string => digest.slice(7, 19);
/** A pushed blob is read 1 MiB at a time: fetch's per-chunk cost made 64 KiB reads half as fast (bench registry). */
export const PUSH_READ_BYTES = 1024 * 1024;

export { pickPlatform } from './oci.js';

/** Blobs of one pull downloaded at once, as Docker's max-concurrent-downloads (3): one stream's CPU no longer waits for another's fsync. */
export const PULL_PARALLEL = 3;

/** Run `f` over `items`, at most `limit` at a time; the first failure is thrown once all started ones ended. */
export async function eachLimited<T>(items: T[], limit: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const x = items[next++]!;
      try {
        await f(x);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed.err;
}

export async function pull(store: ImageStore, reference: string, opts: TransferOptions = {}): Promise<PullResult> {
  const r = parseReference(reference, 'reference');
  const { domain, repo } = remoteOf(r, opts.defaultRegistry);
  const progress = opts.onProgress ?? (() => {});
  const client = new RegistryClient(domain, repo, clientOptions(opts));
  const local = r.tag !== undefined ? `${r.name}:${r.tag}` : undefined;
  const shown = `${r.name}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
  progress({ status: `Pulling from ${domain}/${repo}`, id: r.tag ?? r.digest });

  let top = await client.getManifest(r.digest ?? r.tag!);
  if (isIndexType(top.mediaType) || (!isManifestType(top.mediaType) && isIndexDoc(top.bytes))) {
    const what = `image index ${shown}`;
    const idx = checkIndex(parseJson(top.bytes, what), what);
    top = await client.getManifest(pickPlatform(idx.manifests, what).digest);
  }
  const manifestWhat = `manifest ${shown}`;
  const manifest = checkManifest(parseJson(top.bytes, manifestWhat), manifestWhat);
  const mediaType = manifest.mediaType ?? (isManifestType(top.mediaType) ? top.mediaType : 'application/vnd.oci.image.manifest.v1+json');

  const present = store.imageByManifest(top.digest);
  if (present !== undefined) {
    if (local !== undefined) store.tag(present, local);
    progress({ status: `Image is up to date for ${shown}`, id: short(top.digest) });
    return { ref: local ?? `${r.name}@${top.digest}`, digest: top.digest, id: present, fetched: 0, status: 'up to date' };
  }

  let fetched = 0;
  const fill = async (staging: Staging): Promise<Descriptor[]> => {
    await staging.addBuffer(top.bytes);
    const wanted: Descriptor[] = [];
    for (const d of [manifest.config, ...manifest.layers]) {
      if (staging.hasBlob(d.digest) || wanted.some((w) => w.digest === d.digest)) continue;
      const stored = store.storedBlob(d.digest);
      if (stored !== undefined) {
        const tmp = staging.scratch('link');
        await linkInto(stored, tmp);
        staging.adopt(tmp, d.digest, d.size);
        progress({ status: 'Already exists', id: short(d.digest) });
        continue;
      }
      wanted.push(d);
    }
    const one = async (d: Descriptor): Promise<void> => {
      const what = `blob ${d.digest} from ${domain}/${repo}`;
      fetched++;
      let last = 0;
      const onBytes = (n: number): void => {
        const now = Date.now();
        if (now - last < 100 && n < d.size) return;
        last = now;
        progress({ status: 'Downloading', id: short(d.digest), current: n, total: d.size });
      };
      await downloadBlob(staging, client, d, what, { onBytes, partial: store.partial, ...(opts.signal && { signal: opts.signal }) });
      progress({ status: 'Download complete', id: short(d.digest), current: d.size, total: d.size });
    };
    await eachLimited(wanted, PULL_PARALLEL, one);
    const desc: Descriptor = { mediaType, digest: top.digest, size: top.bytes.length };
    if (local !== undefined) desc.annotations = { [ANNOTATION_CONTAINERD_NAME]: local };
    return [desc];
  };
  let images: ImageSummary[];
  try {
    images = await store.ingest(fill, 'pull');
  } catch (err) {
    if (err instanceof CunikError && !err.message.startsWith('pull ')) throw new CunikError(err.code, `pull ${shown}: ${err.message}`, err.field);
    throw err;
  }
  const img = images[0]!;
  progress({ status: `Downloaded newer image for ${shown}`, id: short(top.digest) });
  return { ref: local ?? `${r.name}@${top.digest}`, digest: top.digest, id: img.id, fetched, status: 'downloaded' };
}

function isIndexDoc(bytes: Buffer): boolean {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as { manifests?: unknown };
    return Array.isArray(v.manifests);
  } catch {
    return false;
  }
}

export interface PushResult {
  ref: string;
  digest: string;
  size: number;
  uploaded: number;
  mounted: number;
  existed: number;
}

export async function push(store: ImageStore, reference: string, opts: TransferOptions = {}): Promise<PushResult> {
  const r = parseReference(reference, 'reference');
  if (r.digest !== undefined) throw invalid(`push needs a tag, not a digest: ${reference}`, 'reference');
  const tag = r.tag!;
  const { domain, repo } = remoteOf(r, opts.defaultRegistry);
  const progress = opts.onProgress ?? (() => {});
  const src = store.pushSource(`${r.name}:${tag}`);
  try {
    const client = new RegistryClient(domain, repo, clientOptions(opts));
    progress({ status: `The push refers to repository [${domain}/${repo}]` });
    const out: PushResult = { ref: `${r.name}:${tag}`, digest: src.digest, size: src.manifest.length, uploaded: 0, mounted: 0, existed: 0 };
    for (const b of src.blobs) {
      const id = short(b.digest);
      if (await client.hasBlob(b.digest)) {
        out.existed++;
        progress({ status: 'Layer already exists', id });
        continue;
      }
      // Another repository of this registry holding it, as the store's names say.
      const from = src.tagsOf(b.digest)
        .map((t) => { try { return remoteOf(parseReference(t), opts.defaultRegistry); } catch { return undefined; } })
        .find((x) => x !== undefined && x.domain === domain && x.repo !== repo)?.repo;
      progress({ status: 'Pushing', id, current: 0, total: b.size });
      let how: 'mounted' | 'uploaded';
      try {
        how = await client.putBlob(b.digest, b.size, () => createReadStream(b.path, { highWaterMark: PUSH_READ_BYTES }) as unknown as BodyInit, from);
      } catch (err) {
        if (err instanceof CunikError && err.message.startsWith('blob ')) throw new CunikError(err.code, `push ${out.ref}: ${err.message}`, err.field);
        throw err;
      }
      if (how === 'mounted') {
        out.mounted++;
        progress({ status: `Mounted from ${from}`, id });
      } else {
        out.uploaded++;
        progress({ status: 'Pushed', id, current: b.size, total: b.size });
      }
    }
    await client.putManifest(tag, src.manifest, src.mediaType);
    progress({ status: `${tag}: digest: ${src.digest} size: ${src.manifest.length}` });
    store.pushed(src.id, out.ref);
    return out;
  } finally {
    src.release();
  }
}

/** Whether a registry takes these credentials (its token flow or basic auth); throws a sentence if not. */
export async function checkLogin(domain: string, opts: TransferOptions): Promise<void> {
  await new RegistryClient(domain, '', clientOptions(opts)).ping();
}

function clientOptions(opts: TransferOptions): RegistryOptions {
  return {
    ...(opts.insecure !== undefined && { insecure: opts.insecure }),
    ...(opts.credentials && { credentials: opts.credentials }),
    ...(opts.certsDir !== undefined && { certsDir: opts.certsDir }),
  };
}
