// Request validation, strict: a JSON value must have exactly its schema's type (Ajv's coercion,
// Fastify's default, turned "64" into 64 and ["hello"] into "hello"). Query strings are text on
// the wire, so they are parsed by the schema first, in one declared way per type, then checked as
// strictly. Ajv's errors become one sentence naming the field.
import type { FastifySchemaValidationError } from 'fastify';
import { PATTERN_RULES } from '../api/rules.js';

/** Ajv options for every request part: no coercion, unknown fields are errors, data kept for messages. */
export const AJV_OPTIONS = { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, verbose: true } as const;

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  anyOf?: Schema[];
  items?: Schema;
  const?: unknown;
  enum?: unknown[];
  [key: string]: unknown;
}

const COMPARISONS: Record<string, string> = { '>=': 'at least', '<=': 'at most', '>': 'greater than', '<': 'less than' };
const BOOLEANS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false };
const INTEGER = /^(0|-?[1-9][0-9]{0,15})$/;

/** The types a schema accepts (a union: each branch's). */
function typesOf(s: Schema): string[] {
  if (s.anyOf) return s.anyOf.flatMap(typesOf);
  if (s.const !== undefined) return [typeof s.const];
  return s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
}

/**
 * Parse a query string's values in place by the route's schema: booleans are exactly true, false,
 * 1 or 0, integers plain decimal digits. Anything else stays text, so the check that follows
 * refuses it. A repeated parameter stays an array (and fails unless the schema takes one).
 */
export function parseQuery(query: Record<string, unknown>, schema: Schema | undefined): void {
  const props = schema?.properties;
  if (!props) return;
  for (const [key, value] of Object.entries(query)) {
    const types = props[key] ? typesOf(props[key]) : [];
    if (typeof value !== 'string' || types.includes('string')) continue;
    if (types.includes('boolean') && Object.hasOwn(BOOLEANS, value)) query[key] = BOOLEANS[value];
    else if (types.includes('integer') && INTEGER.test(value)) query[key] = Number(value);
  }
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function typeName(t: string, query: boolean): string {
  if (query && t === 'boolean') return 'true or false (or 1 or 0)';
  if (query && t === 'integer') return 'a whole number';
  return t === 'integer' || t === 'object' || t === 'array' ? `an ${t}` : t === 'null' ? 'null' : `a ${t}`;
}

/** "ports[0].guestPort" from Ajv's "/ports/0/guestPort". */
function fieldName(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((acc, p) => (/^[0-9]+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function listOf(values: unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  return shown.length <= 1 ? (shown[0] ?? '') : `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}

/** What a union accepts, in words: its literals, or its branches' types. */
function describeUnion(branches: Schema[], query: boolean): string {
  if (branches.every((b) => b.const !== undefined)) return `one of ${listOf(branches.map((b) => b.const))}`;
  return branches
    .map((b) => (b.type === 'array' && b.items ? `an array of ${typesOf(b.items).map((t) => `${t}s`).join(' or ')}` : typeName(typesOf(b).join(' or '), query)))
    .join(' or ');
}

/** One sentence for the first thing wrong with a request part, and the field it names. */
export function describeValidation(errors: FastifySchemaValidationError[], context: string): { message: string; field: string } {
  const query = context === 'querystring';
  // A union reports each branch's failure, then its own: the union's is the one to tell.
  const e = (errors.find((x) => x.keyword === 'anyOf') ?? errors[0]!) as FastifySchemaValidationError & { data?: unknown; parentSchema?: Schema; schema?: unknown };
  const p = e.params as Record<string, unknown>;
  const extra = (p['additionalProperty'] ?? p['missingProperty']) as string | undefined;
  const field = fieldName(e.instancePath, extra) || (context === 'body' ? 'body' : context);
  const where = query ? 'query parameter ' : context === 'params' ? 'path parameter ' : '';
  const got = (v: unknown): string => ` (got ${jsonType(v)})`;
  let what: string;
  switch (e.keyword) {
    case 'additionalProperties':
      return { field, message: `invalid request: ${where}${field} is not a known field` };
    case 'required':
      return { field, message: `invalid request: ${where}${field} is required` };
    case 'type':
      what = field === 'body' ? `the body must be ${typeName(String(p['type']), false)}${got(e.data)}` : `${field} must be ${typeName(String(p['type']), query)}`;
      if (field === 'body') return { field, message: `invalid request: ${what}` };
      if (!query) what += got(e.data);
      break;
    case 'anyOf':
      what = `${field} must be ${describeUnion(e.parentSchema?.anyOf ?? [], query)}`;
      if (!query || e.parentSchema?.anyOf?.some((b) => b.const === undefined)) what += ` (got ${typeof e.data === 'string' ? JSON.stringify(e.data) : jsonType(e.data)})`;
      break;
    case 'const':
    case 'enum':
      what = `${field} must be ${listOf(e.keyword === 'const' ? [p['allowedValue']] : (p['allowedValues'] as unknown[]))}`;
      break;
    case 'pattern': {
      const rule = PATTERN_RULES[String(p['pattern'])];
      return { field, message: rule ? `invalid ${field} ${JSON.stringify(e.data)}: ${rule}` : `invalid request: ${where}${field} ${JSON.stringify(e.data)} is not in the expected form` };
    }
    case 'minLength':
      what = p['limit'] === 1 ? `${field} must not be empty` : `${field} must be at least ${String(p['limit'])} characters long`;
      break;
    case 'maxLength':
      what = `${field} must be at most ${String(p['limit'])} characters long`;
      break;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      what = `${field} must be ${COMPARISONS[String(p['comparison'])] ?? String(p['comparison'])} ${String(p['limit'])}, not ${JSON.stringify(e.data)}`;
      break;
    case 'minItems':
      what = `${field} must have at least ${String(p['limit'])} item${p['limit'] === 1 ? '' : 's'}`;
      break;
    case 'maxItems':
      what = `${field} must have at most ${String(p['limit'])} items`;
      break;
    case 'format':
      what = `${field} must be a ${String(p['format'])}`;
      break;
    default:
      what = `${field} ${e.message ?? 'is invalid'}`;
  }
  return { field, message: `invalid request: ${where}${what}` };
}
