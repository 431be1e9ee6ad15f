// Docker's `ps --filter` (daemon/list.go): values of one key are alternatives, different keys must
// all match; every label term must hold. The API's `filters` text reaches the daemon untrusted and
// is checked here; matching is pure.
import { invalid } from '../errors.js';
import { matchesImage } from '../events/filter.js';
import { hasLabel, parseFilters, type Filters } from '../util/filters.js';
import { exposedPorts } from './boot-config.js';
import type { InstanceRecord } from './record.js';

export type InstanceFilters = Filters;

export const PS_FILTERS = ['id', 'name', 'label', 'status', 'ancestor', 'before', 'since', 'exited', 'network', 'volume', 'health', 'publish', 'expose'] as const;
/** publish= and expose=: PORT or START-END, then /tcp or /udp (tcp when not given), as Docker's. */
const PORT_TERM = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp))?$/;
const STATUSES = ['created', 'running', 'paused', 'restarting', 'exited', 'removing', 'dead'];
export const HEALTH_FILTERS = ['starting', 'healthy', 'unhealthy', 'none'];

export function parseInstanceFilters(text: string | undefined): InstanceFilters {
  const f = parseFilters(text, PS_FILTERS, 'ps');
  for (const v of f['status'] ?? []) if (!STATUSES.includes(v)) throw invalid(`invalid filter status=${v} (one of ${STATUSES.join(', ')})`, 'filters');
  for (const v of f['exited'] ?? []) if (!/^-?\d{1,10}$/.test(v)) throw invalid(`invalid filter exited=${v} (an exit code)`, 'filters');
  for (const v of f['health'] ?? []) if (!HEALTH_FILTERS.includes(v)) throw invalid(`invalid filter health=${v} (one of ${HEALTH_FILTERS.join(', ')})`, 'filters');
  for (const key of ['publish', 'expose']) {
    for (const v of f[key] ?? []) {
      const m = PORT_TERM.exec(v);
      if (m === null || Number(m[1]) > 65535 || Number(m[2] ?? m[1]) > 65535 || Number(m[2] ?? m[1]) < Number(m[1])) throw invalid(`invalid filter ${key}=${v} (PORT or START-END, then /tcp or /udp)`, 'filters');
    }
  }
  return f;
}

/** Whether a guest port is in a publish= or expose= term (parsed and checked above). */
function inPortTerm(term: string, port: { guestPort: number; proto?: string | undefined }): boolean {
  const m = PORT_TERM.exec(term)!;
  const from = Number(m[1]);
  const to = Number(m[2] ?? m[1]);
  return port.guestPort >= from && port.guestPort <= to && (port.proto ?? 'tcp') === (m[3] ?? 'tcp');
}

/** The guest ports an instance exposes: its image's (a label that cannot be read counts none), --expose's, and those it publishes. */
function exposedOf(r: InstanceRecord): { guestPort: number; proto?: string | undefined }[] {
  let image: { guestPort: number; proto?: string | undefined }[] = [];
  try {
    image = exposedPorts(r.boot.labels ?? {}, [], r.config.expose);
  } catch {
    image = [];
  }
  return [...(r.config.ports ?? []), ...image];
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
    any('health', (v) => ctx.health(r) === v) &&
    any('publish', (v) => (r.config.ports ?? []).some((p) => inPortTerm(v, p))) &&
    any('expose', (v) => exposedOf(r).some((p) => inPortTerm(v, p)))
  );
}

/**
 * Docker: with a status (or exited) filter, `ps` looks at every instance, not only running ones,
 * so `ps --filter status=exited` needs no -a.
 */
export const needsAll = (f: InstanceFilters): boolean => f['status'] !== undefined || f['exited'] !== undefined;
