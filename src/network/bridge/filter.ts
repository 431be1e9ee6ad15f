// Docker's network filters (`network ls --filter`, `network prune --filter`): KEY=VALUE terms,
// several values of one key match if any does, different keys must all match (docker/docker
// api/types/filters). Parsed from the API's `filters` (Docker's JSON map of key → values, which
// reaches the daemon untrusted) and matched against a network's record. Pure.
import { invalid } from '../../errors.js';
import type { NetworkRecord } from './spec.js';

export type NetworkFilters = Record<string, string[]>;

/** What `network ls` and `network prune` each take (Docker's sets). */
export const LS_FILTERS = ['name', 'id', 'label', 'driver', 'type', 'dangling'] as const;
export const PRUNE_FILTERS = ['until', 'label', 'label!'] as const;

/** One CLI term `key=value` added to `previous` (commander's repeatable option). */
export function addFilterTerm(term: string, previous: NetworkFilters = {}): NetworkFilters {
  const eq = term.indexOf('=');
  if (eq <= 0 || eq === term.length - 1) throw new Error(`invalid filter: ${JSON.stringify(term)} (KEY=VALUE)`);
  const key = term.slice(0, eq);
  return { ...previous, [key]: [...(previous[key] ?? []), term.slice(eq + 1)] };
}

/** The API's `filters` text (JSON object of string arrays), checked against the allowed keys. */
export function parseFilters(text: string | undefined, allowed: readonly string[], verb: string): NetworkFilters {
  if (text === undefined || text === '') return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid('filters: not a JSON object of KEY: [VALUES]', 'filters');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('filters: not a JSON object of KEY: [VALUES]', 'filters');
  const out: NetworkFilters = {};
  for (const [key, values] of Object.entries(raw)) {
    if (!allowed.includes(key)) throw invalid(`invalid filter ${JSON.stringify(key)} for ${verb} (one of ${allowed.join(', ')})`, 'filters');
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string' || v === '')) throw invalid(`filters: ${key} needs a list of non-empty strings`, 'filters');
    if (values.length > 0) out[key] = [...(values as string[])];
  }
  for (const v of out['dangling'] ?? []) if (!/^(true|false|1|0)$/.test(v)) throw invalid(`invalid filter dangling=${v} (true or false)`, 'filters');
  for (const v of out['type'] ?? []) if (v !== 'custom' && v !== 'builtin') throw invalid(`invalid filter type=${v} (custom or builtin)`, 'filters');
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

export interface FilterSubject {
  net: NetworkRecord;
  /** Whether any instance (any state) names it. */
  inUse: boolean;
  /** The daemon's own network (`bridge`): Docker's type=builtin. */
  builtin: boolean;
}

export function matchesFilters({ net, inUse, builtin }: FilterSubject, f: NetworkFilters, now = Date.now()): boolean {
  const any = (key: string, test: (v: string) => boolean): boolean => f[key] === undefined || f[key]!.some(test);
  return (
    any('name', (v) => net.name.includes(v)) &&
    any('id', (v) => net.id.startsWith(v)) &&
    any('driver', (v) => net.driver === v) &&
    any('type', (v) => (v === 'builtin') === builtin) &&
    any('dangling', (v) => (v === 'true' || v === '1') === !inUse) &&
    // Every label term must hold (Docker: labels are ANDed), none of the label! ones.
    (f['label'] ?? []).every((v) => hasLabel(net.labels, v)) &&
    !(f['label!'] ?? []).some((v) => hasLabel(net.labels, v)) &&
    any('until', (v) => Date.parse(net.createdAt) < untilTime(v, now))
  );
}
