// The web UI's view of a hub's store: repository summaries (tags, their families, labels, sizes)
// and image pages, read through the Registry so they show what the API serves. Summaries are
// cached per repository and checked on every request against the store's listing stamps (the
// repositories' folders and each repository's tags folder: a tag pushed, moved or deleted, by
// this hub or by another process over the same store, changes its folder's stamp), so listing a
// thousand repositories reads no manifest or config that has not changed. An image's details are
// cached by manifest digest (content-addressed: they never change). No HTTP here.
import type { Readable } from 'node:stream';
import { regErr } from '../errors.js';
import * as k from '../keys.js';
import type { Descriptor } from '../media.js';
import { checkName } from '../names.js';
import type { Registry } from '../registry.js';
import type { PrefixStamp, StorageDriver } from '../storage/driver.js';
import { kernelSize } from './kernel-size.js';
import { describeImage, primaryChild, stringMap, tagSummary, type ImageDetails, type RepoSummary, type TagSummary } from './model.js';

/** A stamp that changed less than this long before it was read may change again unseen (coarse file times): not trusted. */
const RACY_MS = 1000;
/** Config blobs larger than this are not read (a config is a few KiB; the hub takes any blob). */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const MAX_DETAILS = 4096;
const PARALLEL = 16;

export interface ImagePage {
  name: string;
  details: ImageDetails;
  /** The repository's tags naming this digest. */
  tags: string[];
  referrers: Descriptor[];
  kernelBytes?: number;
}

interface Folder {
  stamp: string;
  racy: boolean;
  children: string[];
}

interface Cached<T> {
  stamps: string;
  trusted: boolean;
  value: T;
}

async function inParallel<T, R>(items: T[], f: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}

const stampText = (s: (PrefixStamp | undefined)[]): string => s.map((x) => x?.stamp ?? '-').join(' ');

export class HubCatalog {
  /** The folders under repositories/ as last walked. */
  private folders = new Map<string, Folder>();
  private repos = new Map<string, Cached<RepoSummary>>();
  private details = new Map<string, ImageDetails>();
  private kernels = new Map<string, Promise<number | undefined>>();

  constructor(private readonly registry: Registry, private readonly store: StorageDriver) {}

  private async stamps(prefixes: string[]): Promise<{ text: string; trusted: boolean } | undefined> {
    if (!this.store.stamps) return undefined;
    const now = Date.now();
    const s = await this.store.stamps(prefixes);
    return { text: stampText(s), trusted: s.every((x) => x === undefined || x.modifiedMs < now - RACY_MS) };
  }

  /**
   * Every repository name, sorted (as the catalog API lists them). The folders under
   * repositories/ are walked again each time, but a folder whose stamp has not changed (and is
   * not racy) is not listed again: its children are taken from the last walk.
   */
  async names(): Promise<string[]> {
    const names: string[] = [];
    const seen = new Map<string, Folder>();
    const now = Date.now();
    const walk = async (prefix: string, name: string): Promise<void> => {
      // The stamp is taken before the listing: a change after it shows at the next walk.
      const st = (await this.store.stamps?.([prefix]))?.[0];
      const old = this.folders.get(prefix);
      let children: string[];
      if (st && old && old.stamp === st.stamp && !old.racy) children = old.children;
      else children = await this.store.list(prefix);
      seen.set(prefix, { stamp: st?.stamp ?? '-', racy: st === undefined || st.modifiedMs >= now - RACY_MS, children });
      if (name && (children.includes('_manifests') || children.includes('_layers'))) names.push(name);
      await Promise.all(children.filter((c) => !c.startsWith('_')).map((c) => walk(`${prefix}/${c}`, name ? `${name}/${c}` : c)));
    };
    await walk('repositories', '');
    this.folders = seen;
    return names.sort();
  }

  /** Every repository's summary, sorted by name. */
  async summaries(): Promise<RepoSummary[]> {
    const names = await this.names();
    const current = await this.stamps(names.map((n) => k.tagsPrefix(n)));
    const perRepo = current?.text.split(' ');
    const out = await inParallel(names, async (name, i) => {
      const c = this.repos.get(name);
      if (c?.trusted && perRepo && c.stamps === perRepo[i]) return c.value;
      return this.summarize(name);
    });
    const known = new Set(names);
    for (const n of this.repos.keys()) if (!known.has(n)) this.repos.delete(n);
    return out.filter((s): s is RepoSummary => s !== undefined);
  }

  /** One repository's summary; NAME_UNKNOWN when there is no such repository. */
  async summary(name: string): Promise<RepoSummary> {
    checkName(name);
    const c = this.repos.get(name);
    if (c?.trusted) {
      const now = await this.stamps([k.tagsPrefix(name)]);
      if (now && now.text === c.stamps) return c.value; // a deleted repository's tags folder is gone: its stamp differs
    }
    const s = await this.summarize(name);
    if (!s) throw regErr('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { detail: { name } });
    return s;
  }

  /** After this process changed a repository: summarised again at its next read. */
  forget(name: string): void {
    this.repos.delete(name);
    this.folders.clear();
  }

  private async summarize(name: string): Promise<RepoSummary | undefined> {
    const before = await this.stamps([k.tagsPrefix(name)]);
    if (!(await this.registry.exists(name))) {
      this.repos.delete(name);
      return undefined;
    }
    const tags = (await this.store.list(k.tagsPrefix(name))).sort();
    const rows = await Promise.all(tags.map((tag) => this.tagRow(name, tag)));
    const list = rows.filter((r): r is TagSummary => r !== undefined);
    const summary: RepoSummary = { name, tags: list, updatedMs: Math.max(0, ...list.map((t) => t.pushedMs)) };
    if (before) this.repos.set(name, { stamps: before.text, trusted: before.trusted, value: summary });
    return summary;
  }

  private async tagRow(name: string, tag: string): Promise<TagSummary | undefined> {
    try {
      const [m, st] = await Promise.all([this.registry.getManifest(name, tag), this.store.stat(k.tagKey(name, tag))]);
      const d = await this.describe(name, m.digest, m.mediaType, m.body);
      const child = d.kind === 'index' ? primaryChild(d.children) : undefined;
      const primary = child && (await this.load(name, child.digest).catch(() => undefined));
      return tagSummary(tag, st?.modifiedMs ?? 0, d, primary);
    } catch {
      return undefined; // deleted meanwhile (or a tag naming a manifest a crash left out): not listed
    }
  }

  private async load(name: string, digest: string): Promise<ImageDetails> {
    const cached = this.details.get(digest);
    if (cached) return cached;
    const m = await this.registry.getManifest(name, digest);
    return this.describe(name, m.digest, m.mediaType, m.body);
  }

  private async describe(_name: string, digest: string, mediaType: string, body: Buffer): Promise<ImageDetails> {
    const cached = this.details.get(digest);
    if (cached) return cached;
    let config: Buffer | undefined;
    let known = true;
    const probe = describeImage(digest, mediaType, body);
    if (probe.config) {
      const st = await this.store.stat(k.blobKey(probe.config.digest)).catch(() => undefined);
      if (st && st.size <= MAX_CONFIG_BYTES) config = await this.store.read(k.blobKey(probe.config.digest));
      else known = st !== undefined; // a missing config may arrive (never cached); a huge one will not change
    }
    const d = config ? describeImage(digest, mediaType, body, config) : probe;
    if (probe.config && !config) d.problems.push(known ? 'the image config is too large to show' : 'the image config is not in the store');
    if (known) {
      if (this.details.size >= MAX_DETAILS) this.details.delete(this.details.keys().next().value!);
      this.details.set(digest, d);
    }
    return d;
  }

  /** An image's page: by tag or digest; MANIFEST_UNKNOWN / NAME_UNKNOWN as the API says. */
  async image(name: string, ref: string): Promise<ImagePage> {
    const m = await this.registry.getManifest(checkName(name), ref);
    const [details, summary, referrers] = await Promise.all([
      this.describe(name, m.digest, m.mediaType, m.body),
      this.summary(name),
      this.registry.referrers(name, m.digest),
    ]);
    const page: ImagePage = {
      name,
      details,
      tags: summary.tags.filter((t) => t.digest === m.digest).map((t) => t.tag),
      referrers: (JSON.parse(referrers.body) as { manifests: Descriptor[] }).manifests.map((r) => ({ ...r, annotations: stringMap(r.annotations) })),
    };
    if (details.kind === 'image') {
      const kb = await this.kernelBytes(details);
      if (kb !== undefined) page.kernelBytes = kb;
    }
    return page;
  }

  private kernelBytes(d: ImageDetails): Promise<number | undefined> {
    let p = this.kernels.get(d.digest);
    if (!p) {
      const open = (digest: string): Readable => this.registry.blobReader(digest);
      p = kernelSize(d.layers, d.kernelPath, open).catch(() => undefined);
      if (this.kernels.size >= MAX_DETAILS) this.kernels.delete(this.kernels.keys().next().value!);
      this.kernels.set(d.digest, p);
    }
    return p;
  }
}
