// What CunikHub's web UI shows, computed from what the registry holds: an image's details from
// its manifest and config (both untrusted JSON pushed by a client: every field is checked for its
// type before use), a repository's summary, and the search. Pure: no I/O, no HTTP.
import { kraftkitImage, uruncAnnotations, uruncImage } from '../../images/foreign.js';
import { LABEL, pickPlatform, type Descriptor, type ImageConfig, type Manifest } from '../../images/oci.js';

// build/builder.ts writes these (LABEL_PORTS, LABEL_VOLUMES); not imported from there, which
// would load the whole builder into the hub.
const LABEL_PORTS = 'org.cunik.ports';
const LABEL_VOLUMES = 'org.cunik.volumes';

export interface BlobInfo {
  digest: string;
  size: number;
  mediaType: string;
  annotations?: Record<string, string>;
}

export interface ChildInfo extends BlobInfo {
  /** "os/architecture[/variant]", when the index entry says. */
  platform?: string;
}

/** Annotations and labels of other tools' image formats. */
export interface ForeignEntry {
  format: 'KraftKit' | 'urunc';
  key: string;
  value: string;
}

export interface ImageDetails {
  digest: string;
  mediaType: string;
  kind: 'image' | 'index';
  /** Bytes: the manifest, its config and layers (an index: itself and its entries' descriptors). */
  size: number;
  artifactType?: string;
  subject?: string;
  config?: BlobInfo;
  layers: BlobInfo[];
  children: ChildInfo[];
  created?: string;
  platform?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  family?: string;
  boot?: string;
  args: string[];
  env: string[];
  memoryMiB?: number;
  cpus?: number;
  ports: string[];
  volumes: string[];
  foreign: ForeignEntry[];
  /** Another tool's layout Cunik maps to run it (images/foreign.ts), and where its kernel is then. */
  format?: 'kraftkit' | 'urunc';
  kernelPath?: string;
  /** What could not be read (a config that is not JSON...), shown on the page. */
  problems: string[];
}

export interface TagSummary {
  tag: string;
  digest: string;
  size: number;
  /** When the tag was last written (its link's time). */
  pushedMs: number;
  family?: string;
  boot?: string;
  platforms: string[];
  labels: Record<string, string>;
}

export interface RepoSummary {
  name: string;
  /** Sorted by tag name. */
  tags: TagSummary[];
  updatedMs: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A map of string values only (anything else in untrusted JSON is dropped). */
export function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObj(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function blob(v: unknown): BlobInfo | undefined {
  if (!isObj(v) || typeof v['digest'] !== 'string' || typeof v['mediaType'] !== 'string' || typeof v['size'] !== 'number') return undefined;
  const b: BlobInfo = { digest: v['digest'], size: v['size'], mediaType: v['mediaType'] };
  const ann = stringMap(v['annotations']);
  if (Object.keys(ann).length > 0) b.annotations = ann;
  return b;
}

export function platformText(v: unknown): string | undefined {
  if (!isObj(v)) return undefined;
  const os = str(v['os']);
  const arch = str(v['architecture']);
  if (os === undefined && arch === undefined) return undefined;
  const variant = str(v['variant']);
  return [os ?? '?', arch ?? '?', ...(variant ? [variant] : [])].join('/');
}

/** A JSON array of strings (or numbers) in a label, else a comma-separated list. */
export function listLabel(v: string | undefined): string[] {
  if (v === undefined || v.trim() === '') return [];
  try {
    const parsed: unknown = JSON.parse(v);
    if (Array.isArray(parsed)) return parsed.filter((x) => typeof x === 'string' || typeof x === 'number').map(String);
  } catch {
    // not JSON: a plain list
  }
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

const wholeNumber = (v: string | undefined): number | undefined => (v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : undefined);

export function foreignEntries(...maps: Record<string, string>[]): ForeignEntry[] {
  const seen = new Set<string>();
  const out: ForeignEntry[] = [];
  for (const m of maps) {
    for (const [key, value] of Object.entries(m)) {
      const format = key.startsWith('org.unikraft.') ? 'KraftKit' : key.startsWith('com.urunc.') ? 'urunc' : undefined;
      if (format === undefined || seen.has(key)) continue;
      seen.add(key);
      out.push({ format, key, value });
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The family: Cunik's label, else what another tool's format says (KraftKit: unikraft; urunc: its unikernelType). */
export function familyOf(labels: Record<string, string>, foreign: ForeignEntry[]): string | undefined {
  const own = labels[LABEL.family];
  if (own) return own;
  const urunc = foreign.find((f) => f.key === 'com.urunc.unikernel.unikernelType');
  if (urunc?.value) return urunc.value;
  return foreign.some((f) => f.format === 'KraftKit') ? 'unikraft' : undefined;
}

function parseJsonObject(b: Buffer | undefined, what: string, problems: string[]): Record<string, unknown> | undefined {
  if (b === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(b.toString('utf8'));
    if (isObj(v)) return v;
  } catch {
    // reported below
  }
  problems.push(`the ${what} is not a JSON object`);
  return undefined;
}

/**
 * An image's (or index's) details from its stored manifest and, for an image, its config blob
 * (undefined when the store does not have it or it is too large to read).
 */
export function describeImage(digest: string, mediaType: string, body: Buffer, configBody?: Buffer): ImageDetails {
  const problems: string[] = [];
  const m = parseJsonObject(body, 'manifest', problems) ?? {};
  const d: ImageDetails = {
    digest, mediaType, kind: Array.isArray(m['manifests']) ? 'index' : 'image', size: body.length,
    layers: [], children: [], labels: {}, annotations: stringMap(m['annotations']), args: [], env: [], ports: [], volumes: [], foreign: [], problems,
  };
  const artifactType = str(m['artifactType']);
  if (artifactType !== undefined) d.artifactType = artifactType;
  const subject = isObj(m['subject']) ? str(m['subject']['digest']) : undefined;
  if (subject !== undefined) d.subject = subject;
  if (d.kind === 'index') {
    for (const c of m['manifests'] as unknown[]) {
      const b = blob(c);
      if (!b) continue;
      const p = platformText((c as Record<string, unknown>)['platform']);
      d.children.push({ ...b, ...(p !== undefined && { platform: p }) });
      d.size += b.size;
    }
    d.foreign = foreignEntries(d.annotations, ...d.children.map((c) => c.annotations ?? {}));
    const family = familyOf(d.annotations, d.foreign);
    if (family !== undefined) d.family = family;
    return d;
  }
  const config = blob(m['config']);
  if (config) {
    d.config = config;
    d.size += config.size;
  }
  if (Array.isArray(m['layers'])) for (const l of m['layers']) {
    const b = blob(l);
    if (!b) continue;
    d.layers.push(b);
    d.size += b.size;
  }
  const c = parseJsonObject(configBody, 'image config', problems);
  const inner = c && isObj(c['config']) ? c['config'] : {};
  if (c) {
    const created = str(c['created']);
    if (created !== undefined && !Number.isNaN(Date.parse(created))) d.created = created;
    const p = platformText(c);
    if (p !== undefined) d.platform = p;
    d.labels = stringMap(inner['Labels']);
    if (Array.isArray(inner['Env'])) d.env = inner['Env'].filter((e): e is string => typeof e === 'string');
  }
  if (d.created === undefined && d.annotations['org.opencontainers.image.created']) d.created = d.annotations['org.opencontainers.image.created'];
  d.foreign = foreignEntries(d.annotations, d.labels, ...d.layers.map((l) => l.annotations ?? {}), config?.annotations ?? {});
  // Cunik reads its labels from the config, the manifest's annotations as a fallback (images/oci.ts),
  // and maps KraftKit's and urunc's layouts to the same labels (images/foreign.ts): shown as it runs them.
  let mapped: Record<string, string> = {};
  if (d.labels[LABEL.family] === undefined && d.annotations[LABEL.family] === undefined) {
    try {
      const cf = { ...c, config: { ...inner, Labels: d.labels } } as unknown as ImageConfig;
      const mf = { schemaVersion: 2, config: d.config, layers: d.layers, annotations: d.annotations } as unknown as Manifest;
      const f = kraftkitImage(cf, mf, 'this image') ?? uruncImage(uruncAnnotations(d.annotations, d.labels), cf, 'this image');
      if (f) [d.format, d.kernelPath, mapped] = [f.format, f.files.kernel, f.labels];
    } catch (err) {
      problems.push(`Cunik cannot run it: ${(err as Error).message}`);
    }
  }
  const own = (k: string): string | undefined => d.labels[k] ?? d.annotations[k] ?? mapped[k];
  const family = own(LABEL.family) ?? familyOf({ ...d.annotations, ...d.labels }, d.foreign);
  if (family !== undefined) d.family = family;
  const boot = own(LABEL.boot);
  if (boot) d.boot = boot;
  const args = listLabel(own(LABEL.args));
  d.args = args.length > 0 ? args : Array.isArray(inner['Cmd']) ? inner['Cmd'].filter((a): a is string => typeof a === 'string') : [];
  const memory = wholeNumber(own(LABEL.memory));
  if (memory !== undefined) d.memoryMiB = memory;
  const cpus = wholeNumber(own(LABEL.cpus));
  if (cpus !== undefined) d.cpus = cpus;
  d.ports = listLabel(own(LABEL_PORTS));
  if (d.ports.length === 0 && isObj(inner['ExposedPorts'])) d.ports = Object.keys(inner['ExposedPorts']);
  d.volumes = listLabel(own(LABEL_VOLUMES));
  if (d.volumes.length === 0 && isObj(inner['Volumes'])) d.volumes = Object.keys(inner['Volumes']);
  return d;
}

/** The entry of an index the summary describes: the one Cunik would pull (images/oci.ts pickPlatform), else the first. */
export function primaryChild(children: ChildInfo[]): ChildInfo | undefined {
  const descriptors: Descriptor[] = children.map((c) => {
    const [os, architecture] = c.platform?.split('/') ?? [];
    return { mediaType: c.mediaType, digest: c.digest, size: c.size, ...(c.platform !== undefined && { platform: { ...(os !== '?' && { os }), ...(architecture !== '?' && { architecture }) } }) };
  });
  try {
    const picked = pickPlatform(descriptors, 'index');
    return children.find((c) => c.digest === picked.digest);
  } catch {
    return children[0];
  }
}

/** A tag's line in a summary: the image itself, or for an index the entry that primaryChild picks. */
export function tagSummary(tag: string, pushedMs: number, image: ImageDetails, primary?: ImageDetails): TagSummary {
  const shown = primary ?? image;
  const platforms = image.kind === 'index' ? image.children.map((c) => c.platform ?? '?') : image.platform ? [image.platform] : [];
  const family = image.family ?? shown.family;
  const s: TagSummary = { tag, digest: image.digest, size: image.size, pushedMs, platforms, labels: { ...shown.labels } };
  if (family !== undefined) s.family = family;
  if (shown.boot !== undefined) s.boot = shown.boot;
  return s;
}

export const families = (r: RepoSummary): string[] => [...new Set(r.tags.map((t) => t.family).filter((f): f is string => f !== undefined))].sort();

export interface Search {
  /** Substrings of the name (lowercase), all required. */
  text: string[];
  families: string[];
  /** `key=value` (value exact) or `key` (present). */
  labels: { key: string; value?: string }[];
}

const many = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function labelTerm(s: string): { key: string; value?: string } {
  const eq = s.indexOf('=');
  return eq < 0 ? { key: s } : { key: s.slice(0, eq), value: s.slice(eq + 1) };
}

/**
 * `?q=` words (each a substring of the name; `family:X` and `label:K=V` words too), `?family=X`
 * and `?label=K=V` (or `?label=K`: the label is there), each repeatable; everything must hold.
 */
export function parseSearch(q: string | string[] | undefined, family?: string | string[], label?: string | string[]): Search {
  const s: Search = { text: [], families: many(family).map((f) => f.trim().toLowerCase()).filter(Boolean), labels: many(label).filter((l) => l.trim() !== '').map((l) => labelTerm(l.trim())) };
  for (const word of many(q).join(' ').split(/\s+/).filter(Boolean)) {
    if (word.startsWith('family:') && word.length > 7) s.families.push(word.slice(7).toLowerCase());
    else if (word.startsWith('label:') && word.length > 6) s.labels.push(labelTerm(word.slice(6)));
    else s.text.push(word.toLowerCase());
  }
  return s;
}

export const isEmptySearch = (s: Search): boolean => s.text.length === 0 && s.families.length === 0 && s.labels.length === 0;

export function matchesSearch(r: RepoSummary, s: Search): boolean {
  for (const t of s.text) if (!r.name.includes(t)) return false;
  for (const f of s.families) if (!r.tags.some((t) => t.family?.toLowerCase() === f)) return false;
  for (const l of s.labels) {
    const hit = r.tags.some((t) => (l.value === undefined ? t.labels[l.key] !== undefined : t.labels[l.key] === l.value));
    if (!hit) return false;
  }
  return true;
}

/** "team/app:v1" or "team/app@sha256:..." (names hold neither ":" nor "@"). */
export function splitReference(s: string): { name: string; tag?: string; digest?: string } | undefined {
  const at = s.indexOf('@');
  if (at > 0) return { name: s.slice(0, at), digest: s.slice(at + 1) };
  const colon = s.lastIndexOf(':');
  if (colon > 0 && !s.slice(colon).includes('/')) return { name: s.slice(0, colon), tag: s.slice(colon + 1) };
  return undefined;
}

export interface PageOf<T> {
  items: T[];
  page: number;
  pages: number;
  total: number;
}

export function pageOf<T>(all: T[], page: number, size: number): PageOf<T> {
  const pages = Math.max(1, Math.ceil(all.length / size));
  const p = Math.min(Math.max(1, Math.floor(page) || 1), pages);
  return { items: all.slice((p - 1) * size, p * size), page: p, pages, total: all.length };
}
