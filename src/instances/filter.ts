// Docker's `ps --filter` (daemon/list.go): values of one key are alternatives, different keys must
// all match; every label term must hold. The API's `filters` text reaches the daemon untrusted and
// is checked here; matching is pure.
import { invalid } from '../errors.js';
import { matchesImage } from '../events/filter.js';
import { hasLabel, parseFilters, type Filters } from '../util/filters.js';
import type { InstanceRecord } from './record.js';

export type InstanceFilters = Filters;

export const PS_FILTERS = ['id', 'name', 'label', 'status', 'ancestor', 'before', 'since', 'exited', 'network', 'volume', 'health'] as const;
const STATUSES = ['created', 'running', 'paused', 'restarting', 'exited', 'removing', 'dead'];
export const HEALTH_FILTERS = ['starting', 'healthy', 'unhealthy', 'none'];

export function parseInstanceFilters(text: string | undefined): InstanceFilters {
  const f = parseFilters(text, PS_FILTERS, 'ps');
  for (const v of f['status'] ?? []) if (!STATUSES.includes(v)) throw invalid(`invalid filter status=${v} (one of ${STATUSES.join(', ')})`, 'filters');
  for (const v of f['exited'] ?? []) if (!/^-?\d{1,10}$/.test(v)) throw invalid(`invalid filter exited=${v} (an exit code)`, 'filters');
  for (const v of f['health'] ?? []) if (!HEALTH_FILTERS.includes(v)) throw invalid(`invalid filter health=${v} (one of ${HEALTH_FILTERS.join(', ')})`, 'filters');
  return f;
}

export interface FilterContext {
  /** before=/since= name an instance (name, id or id prefix): its record, or a not-found error. */
  resolve(ref: string): InstanceRecord;
  /** The instance's health status ('none' without a health check). */
  health(r: InstanceRecord): string;
}

/** Whether `r` passes `f`. before/since compare creation times with the instance they name. */
export function matchesInstance(r: InstanceRecord, f: InstanceFilters, ctx: FilterContext): boolean {
  const any = (key: string, test: (v: string) => boolean): boolean => f[key] === undefined || f[key]!.some(test);
  const labels = r.config.labels ?? {};
  return (
    any('id', (v) => r.id.startsWith(v)) &&
    any('name', (v) => r.name.includes(v)) &&
    (f['label'] ?? []).every((v) => hasLabel(labels, v)) &&
    any('status', (v) => r.state === v) &&
    any('ancestor', (v) => matchesImage(v, r.imageId, r.image)) &&
    (f['before'] ?? []).every((v) => r.created < ctx.resolve(v).created) &&
    (f['since'] ?? []).every((v) => r.created > ctx.resolve(v).created) &&
    any('exited', (v) => r.state === 'exited' && r.exitCode === Number(v)) &&
    any('network', (v) => (r.config.network ?? 'none') === v) &&
    any('volume', (v) => (r.config.mounts ?? []).some((m) => m.name === v || m.target === v || m.source === v)) &&
    any('health', (v) => ctx.health(r) === v)
  );
}

/**
 * Docker: with a status (or exited) filter, `ps` looks at every instance, not only running ones,
 * so `ps --filter status=exited` needs no -a.
 */
export const needsAll = (f: InstanceFilters): boolean => f['status'] !== undefined || f['exited'] !== undefined;
