// Docker's `images --filter` (daemon/images/images.go): reference=PATTERN (a glob over
// name[:tag]), label=KEY[=VALUE], dangling=true|false, before=IMAGE, since=IMAGE. Values of one key
// are alternatives, different keys must all match, every label term must hold. The API's
// `filters` text reaches the daemon untrusted and is checked here; matching is pure.
import type { ImageSummary } from '../api/schemas.js';
import { invalid } from '../errors.js';
import { hasLabel, parseFilters, type Filters } from '../util/filters.js';

export type ImageFilters = Filters;
export const IMAGE_FILTERS = ['reference', 'label', 'dangling', 'before', 'since'] as const;

export function parseImageFilters(text: string | undefined): ImageFilters {
  const f = parseFilters(text, IMAGE_FILTERS, 'images');
  for (const v of f['dangling'] ?? []) if (!['true', 'false', '1', '0'].includes(v)) throw invalid(`invalid filter dangling=${v} (true or false)`, 'filters');
  return f;
}

/** reference=: Docker's glob over "name:tag" ("hello", "hel*", "hello:1.*", "*\/app"); a pattern without a tag matches any tag. */
export function referenceMatches(i: ImageSummary, pattern: string): boolean {
  const withTag = pattern.includes(':') && pattern.lastIndexOf(':') > pattern.lastIndexOf('/') ? pattern : `${pattern}:*`;
  const re = new RegExp(`^${withTag.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
  return i.repoTags.some((t) => re.test(t));
}

export interface ImageFilterContext {
  /** The image's labels (label=). */
  labels(id: string): Record<string, string>;
  /** before=/since= name an image (reference or id): its creation time, or a not-found error. */
  created(ref: string): string;
}

export function matchesImageFilters(i: ImageSummary, f: ImageFilters, ctx: ImageFilterContext): boolean {
  const any = (key: string, test: (v: string) => boolean): boolean => f[key] === undefined || f[key]!.some(test);
  return (
    any('reference', (p) => referenceMatches(i, p)) &&
    any('dangling', (v) => (i.repoTags.length === 0) === (v === 'true' || v === '1')) &&
    (f['label'] === undefined || f['label'].every((v) => hasLabel(ctx.labels(i.id), v))) &&
    (f['before'] ?? []).every((v) => i.created < ctx.created(v)) &&
    (f['since'] ?? []).every((v) => i.created > ctx.created(v))
  );
}
