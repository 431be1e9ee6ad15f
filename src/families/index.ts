// The family registry: a new unikernel family is one adapter file plus one line here.
// docs/families.md describes each family's boot protocol, machine, arguments and exit codes.
import { notFound } from '../errors.js';
import { generic } from './generic.js';
import { hermit } from './hermit.js';
import { includeos } from './includeos.js';
import { linux } from './linux.js';
import { nanos } from './nanos.js';
import { osv } from './osv.js';
import { rumprun } from './rumprun.js';
import { solo5 } from './solo5.js';
import type { FamilyAdapter } from './types.js';
import { unikraft } from './unikraft.js';

const adapters: ReadonlyMap<string, FamilyAdapter> = new Map(
  [generic, linux, unikraft, solo5, nanos, osv, rumprun, includeos, hermit].map((a) => [a.name, a]),
);

export const familyNames = (): string[] => [...adapters.keys()];

export function familyAdapter(name: string): FamilyAdapter {
  const adapter = adapters.get(name);
  if (!adapter) throw notFound(`unknown family: ${name} (known: ${familyNames().join(', ')})`);
  return adapter;
}

export { exitStatusOf } from './exit.js';
export { hostTscKhz } from './host.js';
