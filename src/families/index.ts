// The family registry: a new unikernel family is one adapter file plus one line here.
import { notFound } from '../errors.js';
import { generic } from './generic.js';
import type { FamilyAdapter } from './types.js';

const adapters: ReadonlyMap<string, FamilyAdapter> = new Map([[generic.name, generic]]);

export const familyNames = (): string[] => [...adapters.keys()];

export function familyAdapter(name: string): FamilyAdapter {
  const adapter = adapters.get(name);
  if (!adapter) throw notFound(`unknown family: ${name} (known: ${familyNames().join(', ')})`);
  return adapter;
}
