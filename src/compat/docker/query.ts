// Docker's query conventions: booleans as 1/true/0/false, filters as a JSON map whose values are
// either a list (["a"]) or a set ({"a": true}), the form the Go client sends.
import { invalid } from '../../errors.js';

export type Query = Record<string, string | string[] | undefined>;

/** A boolean query parameter; absent: `fallback`. */
export function flag(q: Query, name: string, fallback = false): boolean {
  const v = one(q, name);
  if (v === undefined || v === '') return fallback;
  if (/^(1|true)$/i.test(v)) return true;
  if (/^(0|false)$/i.test(v)) return false;
  throw invalid(`query parameter ${name} must be 1, true, 0 or false, not ${JSON.stringify(v)}`, name);
}

/** A single-valued parameter (the last one given, as Go's url.Values.Get takes the first: either is one). */
export function one(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[0] : v;
}

export function many(q: Query, name: string): string[] {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A non-negative integer parameter (stop ?t=, logs ?tail=N). */
export function integer(q: Query, name: string): number | undefined {
  const v = one(q, name);
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,9}$/.test(v)) throw invalid(`query parameter ${name} must be a non-negative integer, not ${JSON.stringify(v)}`, name);
  return Number(v);
}

/**
 * ?filters= in the list form the native API takes ({"status":["exited"]}), whatever form the
 * client sent; the native side checks the keys. Absent or empty: undefined.
 */
export function nativeFilters(q: Query): string | undefined {
  const f = filters(q, undefined, '');
  return f.size === 0 ? undefined : JSON.stringify(Object.fromEntries(f));
}

/** ?filters= as KEY → values; unknown keys (with `known`) are refused by name (never ignored). */
export function filters(q: Query, known: readonly string[] | undefined, what: string): Map<string, string[]> {
  const raw = one(q, 'filters');
  const out = new Map<string, string[]>();
  if (raw === undefined || raw === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid('query parameter filters must be a JSON object', 'filters');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid('query parameter filters must be a JSON object', 'filters');
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) values = value as string[];
    else if (value !== null && typeof value === 'object' && Object.values(value).every((v) => v === true)) values = Object.keys(value);
    else throw invalid(`filter ${key} must be a list of strings`, 'filters');
    if (known !== undefined && !known.includes(key)) throw invalid(`${what} filter ${JSON.stringify(key)} is not supported (supported: ${known.join(', ')})`, 'filters');
    if (values.length) out.set(key, values);
  }
  return out;
}
