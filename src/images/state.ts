// The image store's in-memory index: images by manifest digest, references, and resolving
// what a user typed (name[:tag], name@digest, full id, id hex, unique id prefix) to an image.

import { invalid, notFound } from '../errors.js';
import type { CunikMeta, ImageConfig, Manifest } from './oci.js';
import { parseReference } from './reference.js';

export interface ImageRecord {
  /** Manifest digest. */
  digest: string;
  /** Image id: the config digest. */
  id: string;
  manifest: Manifest;
  manifestSize: number;
  config: ImageConfig;
  meta: CunikMeta;
  /** manifest, config and layer digests. */
  blobs: string[];
  size: number;
  created: string;
}

export interface Resolved {
  record: ImageRecord;
  /** 'ref' when found through a name:tag reference (then `ref` is the "name:tag" key). */
  via: 'ref' | 'id';
  ref?: string;
}

const FULL_ID = /^sha256:[a-f0-9]{64}$/;
const HEX64 = /^[a-f0-9]{64}$/;
const PREFIX = /^(?:sha256:)?([a-f0-9]{4,63})$/;
export const MIN_PREFIX = 4;

export interface Snapshot {
  images: Map<string, ImageRecord>;
  refs: Map<string, string>;
}

export class ImageIndexState {
  private images = new Map<string, ImageRecord>();
  private references = new Map<string, string>();

  all(): ImageRecord[] {
    return [...this.images.values()];
  }

  refs(): IterableIterator<[string, string]> {
    return this.references.entries();
  }

  byDigest(digest: string): ImageRecord | undefined {
    return this.images.get(digest);
  }

  byId(id: string): ImageRecord | undefined {
    for (const r of this.images.values()) if (r.id === id) return r;
    return undefined;
  }

  tagsOf(digest: string): string[] {
    const out: string[] = [];
    for (const [ref, d] of this.references) if (d === digest) out.push(ref);
    return out.sort();
  }

  addImage(r: ImageRecord): void {
    this.images.set(r.digest, r);
  }

  deleteImage(digest: string): void {
    this.images.delete(digest);
    for (const [ref, d] of [...this.references]) if (d === digest) this.references.delete(ref);
  }

  setRef(ref: string, digest: string): void {
    this.references.set(ref, digest);
  }

  deleteRef(ref: string): void {
    this.references.delete(ref);
  }

  snapshot(): Snapshot {
    return { images: new Map(this.images), refs: new Map(this.references) };
  }

  restore(s: Snapshot): void {
    this.images = s.images;
    this.references = s.refs;
  }

  /**
   * Docker's lookup order: a full id or digest; then a reference by name (so an image named
   * "cafe" wins over an id starting with cafe); then a unique id prefix of >= 4 hex digits.
   */
  resolve(input: string, field = 'ref'): Resolved {
    if (typeof input !== 'string' || input.length === 0) throw invalid('image reference is empty', field);
    const missing = () => notFound(`no such image: ${input}`);
    if (FULL_ID.test(input) || HEX64.test(input)) {
      const full = input.startsWith('sha256:') ? input : `sha256:${input}`;
      const r = this.byId(full) ?? this.images.get(full);
      if (r) return { record: r, via: 'id' };
      if (input.startsWith('sha256:')) throw missing();
    }
    let parseError: unknown;
    try {
      const ref = parseReference(input, field);
      if (ref.digest !== undefined) {
        const r = this.images.get(ref.digest);
        const named = r && [...this.references].some(([k, d]) => d === r.digest && k.startsWith(`${ref.name}:`));
        if (r && named && (ref.tag === undefined || this.references.get(`${ref.name}:${ref.tag}`) === r.digest)) {
          return { record: r, via: 'id' };
        }
        throw missing();
      }
      const key = `${ref.name}:${ref.tag}`;
      const d = this.references.get(key);
      if (d !== undefined) {
        const r = this.images.get(d);
        if (r) return { record: r, via: 'ref', ref: key };
      }
    } catch (err) {
      if ((err as { code?: string }).code === 'NOT_FOUND') throw err;
      parseError = err;
    }
    const m = PREFIX.exec(input);
    if (m) {
      const hex = m[1]!;
      const hits = this.all().filter((r) => r.id.startsWith(`sha256:${hex}`));
      if (hits.length === 1) return { record: hits[0]!, via: 'id' };
      if (hits.length > 1) throw invalid(`ambiguous image id prefix: ${input}`, field);
    }
    if (parseError !== undefined) throw parseError;
    throw missing();
  }
}
