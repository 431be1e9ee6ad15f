// Docker's rename: the old name is free at once and the new one taken, in the record too; a
// record write that fails puts both back. The caller (service.ts) runs it inside the instance's queue.
import { conflict, invalid } from '../errors.js';
import type { InstanceRecord } from './record.js';
import type { InstanceRegistry } from './registry.js';

export interface RenameContext {
  registry: InstanceRegistry;
  save(record: InstanceRecord): Promise<void>;
}

/** Resolves with the old name once the record is written under the new one. */
export async function renameInstance(ctx: RenameContext, record: InstanceRecord, name: string): Promise<string> {
  const { names } = ctx.registry;
  if (record.name === name) throw invalid(`instance ${name} already has that name`, 'name');
  if (record.state === 'removing') throw conflict(`instance ${record.name} is being removed`);
  if (names.has(name)) throw conflict(`the name "${name}" is already in use by instance ${ctx.registry.resolve(name).id.slice(0, 12)}`);
  const oldName = record.name;
  names.add(name);
  record.name = name;
  try {
    await ctx.save(record);
  } catch (err) {
    record.name = oldName;
    names.delete(name);
    throw err;
  }
  names.delete(oldName);
  return oldName;
}
