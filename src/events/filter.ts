// Event filters, Docker's rules (daemon/events/filter.go): values of one key are alternatives
// (OR), different keys must all match (AND).
//   type=instance|image
//   event=<action>            e.g. die, start, untag; health_status: any health_status: STATUS
//   instance=<name|id|id prefix>   instance events of that instance only
//   image=<ref|id|id prefix>  image events of that image, and instance events of instances created
//                             from that reference (their `image` attribute)
import { invalid } from '../errors.js';
import type { CunikEvent } from './log.js';

export const FILTER_KEYS = ['type', 'event', 'instance', 'image'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type EventFilter = Partial<Record<FilterKey, string[]>>;

const TYPES = ['instance', 'image'];

/**
 * Parse the `filters` query value: a JSON object of string arrays, as Docker sends it
 * (`{"type":["instance"],"event":["die","start"]}`); Docker's older map form
 * (`{"event":{"die":true}}`) is accepted too.
 */
export function parseFilters(json: string | undefined, field = 'filters'): EventFilter {
  if (json === undefined || json.trim() === '') return {};
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw invalid(`invalid ${field}: not JSON (expected e.g. {"type":["instance"]})`, field);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`invalid ${field}: expected a JSON object of string arrays`, field);
  const filter: EventFilter = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!(FILTER_KEYS as readonly string[]).includes(key)) {
      throw invalid(`invalid filter '${key}' (use ${FILTER_KEYS.join(', ')})`, field);
    }
    let values: unknown[];
    if (Array.isArray(value)) values = value;
    else if (value !== null && typeof value === 'object') values = Object.entries(value).filter(([, on]) => on === true).map(([v]) => v);
    else values = [value];
    if (values.some((v) => typeof v !== 'string' || v === '')) throw invalid(`invalid filter '${key}': values must be non-empty strings`, field);
    const strings = values as string[];
    if (key === 'type') {
      const wrong = strings.find((t) => !TYPES.includes(t));
      if (wrong !== undefined) throw invalid(`invalid filter 'type=${wrong}' (use type=instance or type=image)`, field);
    }
    if (strings.length) filter[key as FilterKey] = [...new Set(strings)];
  }
  return filter;
}

/** "hello" → "hello:latest"; references with a tag or digest stay as they are. */
function withDefaultTag(ref: string): string {
  if (ref.includes('@')) return ref;
  return ref.lastIndexOf(':') > ref.lastIndexOf('/') ? ref : `${ref}:latest`;
}

const hex = (id: string): string => id.replace(/^sha256:/, '');

export function matchesImage(value: string, id: string | undefined, ref: string | undefined): boolean {
  if (ref !== undefined && (ref === value || withDefaultTag(ref) === withDefaultTag(value))) return true;
  if (id !== undefined && value.length >= 4 && /^(sha256:)?[0-9a-f]+$/.test(value)) {
    return id === value || hex(id).startsWith(hex(value));
  }
  return false;
}

export function matches(filter: EventFilter, e: CunikEvent): boolean {
  const any = (key: FilterKey, test: (v: string) => boolean): boolean => {
    const values = filter[key];
    return values === undefined || values.some(test);
  };
  return (
    any('type', (t) => t === e.type) &&
    // Docker's #25798: event=health_status matches health_status: healthy and the others.
    any('event', (a) => a === e.action || (a === 'health_status' && e.action.startsWith('health_status: '))) &&
    any('instance', (v) => e.type === 'instance' && (e.attributes['name'] === v || e.id.startsWith(v))) &&
    any('image', (v) =>
      e.type === 'image' ? matchesImage(v, e.id, e.attributes['name']) : matchesImage(v, undefined, e.attributes['image']),
    )
  );
}
