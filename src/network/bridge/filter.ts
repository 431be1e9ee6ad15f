// Docker's network filters (`network ls --filter`, `network prune --filter`), parsed by
// util/filters.ts and matched here against a network's record. Pure.
import { invalid } from '../../errors.js';
import { hasLabel, parseFilters, untilTime, type Filters } from '../../util/filters.js';
import type { NetworkRecord } from './spec.js';

export type NetworkFilters = Filters;

/** What `network ls` and `network prune` each take (Docker's sets). */
export const LS_FILTERS = ['name', 'id', 'label', 'driver', 'type', 'dangling'] as const;
export const PRUNE_FILTERS = ['until', 'label', 'label!'] as const;

/** The API's `filters` for a network list or prune; type= is custom or builtin. */
export function parseNetworkFilters(text: string | undefined, allowed: readonly string[], verb: string): NetworkFilters {
  const out = parseFilters(text, allowed, verb);
  for (const v of out['type'] ?? []) if (v !== 'custom' && v !== 'builtin') throw invalid(`invalid filter type=${v} (custom or builtin)`, 'filters');
  return out;
}

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
