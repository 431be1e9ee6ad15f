// The native request schemas applied to what the compat layer translated, so a Docker client meets
// the same checks (ranges, name rules) and the same one-sentence errors as a native one.
import type { FastifySchemaValidationError } from 'fastify';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { invalid } from '../../errors.js';
import { describeValidation } from '../../daemon/validation.js';

function at(value: unknown, pointer: string): unknown {
  let v = value;
  for (const part of pointer.split('/').slice(1)) v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}

/** `value` if it matches `schema`; otherwise INVALID_ARGUMENT naming the first field at fault. */
export function checked<T>(schema: TSchema, value: T): T {
  if (Value.Check(schema, value)) return value;
  const errors = [...Value.Errors(schema, value)].filter((e) => e.keyword !== 'boolean');
  const first = errors[0];
  if (!first) throw invalid('invalid request');
  const p = first.params as Record<string, unknown>;
  // Ajv names one unknown or missing property; TypeBox lists them.
  const params = { ...p, ...(Array.isArray(p['additionalProperties']) && { additionalProperty: p['additionalProperties'][0] }), ...(Array.isArray(p['requiredProperties']) && { missingProperty: p['requiredProperties'][0] }) };
  const { message, field } = describeValidation([{ ...first, params, data: at(value, first.instancePath) } as unknown as FastifySchemaValidationError], 'body');
  throw invalid(message, field);
}
