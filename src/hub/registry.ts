// The registry's domain: repositories of manifests, tags and blob links over one shared blob
// store (blobs by digest; one layer pushed to ten repositories is stored once). No HTTP here.
// Order of writes makes every crash point consistent: a blob before its link, a manifest's blob
// before its revision link, the revision before its referrer entry and tag.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { regErr } from './errors.js';
import * as k from './keys.js';
import { parseManifest, type Descriptor, OCI_INDEX } from './media.js';
import { checkDigest, checkName, checkTag, isDigestLike } from './names.js';
import type { StorageDriver } from './storage/driver.js';

export interface StoredManifest {
  body: Buffer;
  mediaType: string;
  digest: string;
}

export interface Page {
  items: string[];
  /** The `last` of the next page, when there is one. */
  next?: string;
}

interface RevisionLink {
  mediaType: string;
  subject?: string;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function paginate(sorted: string[], n: number | undefined, last: string | undefined): Page {
  const from = last === undefined ? sorted : sorted.filter((s) => s > last);
  if (n === undefined || from.length <= n) return { items: from };
  const items = from.slice(0, n);
  return n > 0 ? { items, next: items[items.length - 1]! } : { items };
}

export class Registry {
  constructor(readonly store: StorageDriver, readonly opts: { deletes: boolean } = { deletes: true }) {}

  async exists(name: string): Promise<boolean> {
    const r = k.repoKey(checkName(name));
    return (await this.store.isPrefix(`${r}/_manifests`)) || (await this.store.isPrefix(`${r}/_layers`));
  }

  private async requireRepo(name: string): Promise<void> {
    if (!(await this.exists(name))) throw regErr('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { detail: { name } });
  }

  /** Does the repository hold this blob (a layer, a config, or one of its manifests)? Marks it in use. */
  async hasBlob(name: string, digest: string): Promise<boolean> {
    // Touched, link and blob: a push that found it here may name it in a manifest next, and GC
    // spares what was touched within its grace period.
    const linked = (await this.store.touch(k.layerKey(name, digest))) || (await this.store.touch(k.revisionKey(name, digest)));
    return linked && (await this.store.touch(k.blobKey(digest)));
  }

  async blobSize(name: string, digest: string): Promise<number> {
    checkName(name);
    checkDigest(digest);
    if (await this.hasBlob(name, digest)) {
      const st = await this.store.stat(k.blobKey(digest));
      if (st) return st.size;
    }
    throw regErr('BLOB_UNKNOWN', `blob ${digest} is not in repository ${name}`, { detail: { digest } });
  }

  blobReader(digest: string, range?: { start: number; end: number }): Readable {
    return this.store.reader(k.blobKey(digest), range);
  }

  /**
   * A blob's bytes (or [start, end] of them) opened now, written into `out` (not ended) when the
   * copy is called: the driver's own copy when it has one, its reader piped otherwise.
   */
  async openBlobCopy(digest: string, range?: { start: number; end: number }): Promise<(out: Writable) => Promise<void>> {
    const key = k.blobKey(digest);
    if (this.store.openCopy === undefined) return (out) => pipeline(this.store.reader(key, range), out, { end: false });
    const copy = await this.store.openCopy(key, range);
    if (copy === undefined) throw regErr('BLOB_UNKNOWN', `blob ${digest} is not in the store`, { detail: { digest } });
    return copy;
  }

  async deleteBlob(name: string, digest: string): Promise<void> {
    this.requireDeletes();
    await this.blobSize(name, digest);
    await this.store.delete(k.layerKey(name, digest));
  }

  /** Link a blob the repository `from` holds into `name`; false when it cannot (a normal upload follows). */
  async mount(name: string, digest: string, from: string): Promise<boolean> {
    checkName(name);
    checkDigest(digest);
    try {
      checkName(from);
    } catch {
      return false;
    }
    if (!(await this.hasBlob(from, digest))) return false;
    await this.linkBlob(name, digest);
    return true;
  }

  /** The blob is in the store (verified): make it part of the repository. */
  async linkBlob(name: string, digest: string): Promise<void> {
    await this.store.write(k.layerKey(name, digest), digest);
  }

  private async resolve(name: string, ref: string): Promise<string> {
    if (isDigestLike(ref)) return checkDigest(ref);
    const tag = await this.store.read(k.tagKey(name, checkTag(ref)));
    if (tag === undefined && !(await this.exists(name))) await this.requireRepo(name);
    if (tag === undefined) throw regErr('MANIFEST_UNKNOWN', `manifest ${name}:${ref} is not known`, { detail: { name, tag: ref } });
    return tag.toString('utf8').trim();
  }

  async getManifest(name: string, ref: string): Promise<StoredManifest> {
    checkName(name);
    const digest = await this.resolve(name, ref);
    const link = await this.store.read(k.revisionKey(name, digest));
    const body = link && (await this.store.read(k.blobKey(digest)));
    if (!link || !body) {
      if (!(await this.exists(name))) await this.requireRepo(name);
      throw regErr('MANIFEST_UNKNOWN', `manifest ${name}@${digest} is not known`, { detail: { name, digest } });
    }
    const { mediaType } = JSON.parse(link.toString('utf8')) as RevisionLink;
    return { body, mediaType, digest };
  }

  async putManifest(name: string, ref: string, body: Buffer, contentType: string | undefined): Promise<{ digest: string; subject?: string }> {
    checkName(name);
    const digest = sha256(body);
    if (isDigestLike(ref)) {
      checkDigest(ref);
      if (ref !== digest) throw regErr('DIGEST_INVALID', `manifest digest is ${digest}, not ${ref}`, { detail: { digest: ref } });
    } else checkTag(ref);
    const m = parseManifest(body, contentType);
    for (const b of m.blobs) {
      if (!(await this.hasBlob(name, b))) throw regErr('MANIFEST_BLOB_UNKNOWN', `blob ${b} is not in repository ${name}: push it first`, { detail: { digest: b } });
    }
    for (const c of m.manifests) {
      const ok = (await this.store.touch(k.revisionKey(name, c))) && (await this.store.touch(k.blobKey(c)));
      if (!ok) throw regErr('MANIFEST_BLOB_UNKNOWN', `manifest ${c} named by the index is not in repository ${name}: push it first`, { detail: { digest: c } });
    }
    const blob = k.blobKey(digest);
    if (!(await this.store.touch(blob))) await this.store.write(blob, body);
    const link: RevisionLink = { mediaType: m.mediaType, ...(m.subject && { subject: m.subject.digest }) };
    await this.store.write(k.revisionKey(name, digest), JSON.stringify(link));
    if (m.subject) {
      // Accepted before the subject exists (spec 1.1): the referrers list is kept by subject digest.
      const d: Descriptor = { mediaType: m.mediaType, digest, size: body.length };
      if (m.artifactType !== undefined) d.artifactType = m.artifactType;
      if (m.annotations !== undefined) d.annotations = m.annotations;
      await this.store.write(k.referrerKey(name, m.subject.digest, digest), JSON.stringify(d));
    }
    if (!isDigestLike(ref)) await this.store.write(k.tagKey(name, ref), digest);
    return { digest, ...(m.subject && { subject: m.subject.digest }) };
  }

  async deleteManifest(name: string, ref: string): Promise<void> {
    checkName(name);
    this.requireDeletes();
    if (!isDigestLike(ref)) {
      await this.resolve(name, ref);
      await this.store.delete(k.tagKey(name, ref));
      return;
    }
    const digest = checkDigest(ref);
    const link = await this.store.read(k.revisionKey(name, digest));
    if (!link) {
      await this.requireRepo(name);
      throw regErr('MANIFEST_UNKNOWN', `manifest ${name}@${digest} is not known`, { detail: { name, digest } });
    }
    for (const tag of await this.store.list(k.tagsPrefix(name))) {
      const d = await this.store.read(k.tagKey(name, tag));
      if (d?.toString('utf8').trim() === digest) await this.store.delete(k.tagKey(name, tag));
    }
    const { subject } = JSON.parse(link.toString('utf8')) as RevisionLink;
    if (subject) await this.store.delete(k.referrerKey(name, subject, digest));
    await this.store.delete(k.revisionKey(name, digest));
  }

  async tags(name: string, n?: number, last?: string): Promise<Page> {
    checkName(name);
    await this.requireRepo(name);
    return paginate((await this.store.list(k.tagsPrefix(name))).sort(), n, last);
  }

  async referrers(name: string, subject: string, artifactType?: string): Promise<{ body: string; filtered: boolean }> {
    checkName(name);
    checkDigest(subject);
    const prefix = k.referrersPrefix(name, subject);
    const manifests: Descriptor[] = [];
    for (const hex of (await this.store.list(prefix)).sort()) {
      const raw = await this.store.read(`${prefix}/${hex}`);
      if (!raw) continue;
      const d0 = JSON.parse(raw.toString('utf8')) as Descriptor;
      // Left by a repository delete that was cut short: its manifest is gone.
      if ((await this.store.stat(k.revisionKey(name, d0.digest))) === undefined) continue;
      const d = JSON.parse(raw.toString('utf8')) as Descriptor;
      if (artifactType === undefined || d.artifactType === artifactType) manifests.push(d);
    }
    return { body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }), filtered: artifactType !== undefined };
  }

  /** Every repository name, sorted. */
  async repositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (prefix: string, name: string): Promise<void> => {
      const children = await this.store.list(prefix);
      if (name && (children.includes('_manifests') || children.includes('_layers'))) out.push(name);
      for (const c of children) if (!c.startsWith('_')) await walk(`${prefix}/${c}`, name ? `${name}/${c}` : c);
    };
    await walk('repositories', '');
    return out.sort();
  }

  async catalog(n?: number, last?: string): Promise<Page> {
    return paginate(await this.repositories(), n, last);
  }

  /** Extension (not in the spec): the whole repository, its tags, manifests and links. Blobs go at the next GC. */
  async deleteRepository(name: string): Promise<void> {
    checkName(name);
    this.requireDeletes();
    await this.requireRepo(name);
    const r = k.repoKey(name);
    // Only this repository's own folders: a nested repository (name/sub) stays.
    for (const part of ['_manifests', '_referrers', '_layers']) await this.store.deleteTree(`${r}/${part}`);
  }

  private requireDeletes(): void {
    if (!this.opts.deletes) throw regErr('UNSUPPORTED', 'deletes are disabled on this registry');
  }
}
