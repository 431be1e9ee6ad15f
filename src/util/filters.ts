// Docker's list filters (api/types/filters): KEY=VALUE terms; several values of one key match if
// any does, different keys must all match. The API's `filters` is Docker's JSON map of key →
// values, which reaches the daemon untrusted and is checked here. Each list (images, instances,
// volumes, networks, the build cache) names its own keys and matches them itself. Pure.
import { invalid } from '../errors.js';

export type Filters = Record<string, string[]>;

/** One CLI term `key=value` added to `previous` (commander's repeatable option). */
export function addFilterTerm(term: string, previous: Filters = {}): Filters {
  const eq = term.indexOf('=');
  if (eq <= 0 || eq === term.length - 1) throw new Error(`invalid filter: ${JSON.stringify(term)} (KEY=VALUE)`);
  const key = term.slice(0, eq);
  return { ...previous, [key]: [...(previous[key] ?? []), term.slice(eq + 1)] };
}

/** The API's `filters` text (JSON object of string arrays), checked against the allowed keys. */
export function parseFilters(text: string | undefined, allowed: readonly string[], verb: string): Filters {
  if (text === undefined || text === '') return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid('filters: not a JSON object of KEY: [VALUES]', 'filters');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('filters: not a JSON object of KEY: [VALUES]', 'filters');
  const out: Filters = {};
  for (const [key, values] of Object.entries(raw)) {
    if (!allowed.includes(key)) throw invalid(`invalid filter ${JSON.stringify(key)} for ${verb} (one of ${allowed.join(', ')})`, 'filters');
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string' || v === '')) throw invalid(`filters: ${key} needs a list of non-empty strings`, 'filters');
    if (values.length > 0) out[key] = [...(values as string[])];
  }
  for (const v of out['dangling'] ?? []) if (!/^(true|false|1|0)$/.test(v)) throw invalid(`invalid filter dangling=${v} (true or false)`, 'filters');
  for (const v of out['until'] ?? []) untilTime(v, 0);
  return out;
}

/**
 * `until`: a Unix timestamp (seconds, fractions allowed), a date Date.parse reads (RFC 3339), or a
 * duration before `now` in Go's units (10m, 1h30m, 90s), as Docker takes it.
 */
export function untilTime(value: string, now: number): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const dur = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(value);
  if (dur && value !== '') return now - ((Number(dur[1] ?? 0) * 60 + Number(dur[2] ?? 0)) * 60 + Number(dur[3] ?? 0)) * 1000;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalid(`invalid filter until=${value} (a timestamp, a date or a duration such as 24h)`, 'filters');
  return t;
}

/** label=KEY (present) or label=KEY=VALUE (equal). */
export const hasLabel = (labels: Record<string, string>, term: string): boolean => {
  const eq = term.indexOf('=');
  return eq < 0 ? Object.hasOwn(labels, term) : labels[term.slice(0, eq)] === term.slice(eq + 1);
};

