// docker update for instances: memory, vCPUs and the restart policy of a stored instance. The new
// config is checked as a start would check it (the host's CPUs, the image's memory minimum through
// the family's own rules) before the record changes, so a refused update leaves it as it was.
// Memory and vCPUs of a running VM stay as they are until its next start: QEMU could hot-plug
// them only with devices and guest drivers none of these guests have (docs/instances.md).
// The restart policy applies at once: the scheduler reads it at the next exit.
import { conflict, invalid } from '../errors.js';
import type { FamilyAdapter } from '../families/types.js';
import { bootConfig, checkImageMemory, networkSettings, type HostFacts } from './boot-config.js';
import type { InstanceRecord } from './record.js';
import { NO_RESTART, type RestartPolicy } from './restart.js';

export interface UpdateOptions {
  memoryMiB?: number | undefined;
  cpus?: number | undefined;
  /** Allow more vCPUs than the host has CPUs (as run --cpu-overcommit). */
  cpuOvercommit?: boolean | undefined;
  restartPolicy?: { name: RestartPolicy['name']; maximumRetryCount?: number | undefined } | undefined;
}

/** The record's config after the update, checked as create and start check it; pure. */
export function updatedConfig(record: Pick<InstanceRecord, 'config' | 'boot' | 'name'>, opts: UpdateOptions, adapter: FamilyAdapter, host: HostFacts = {}): InstanceRecord['config'] {
  if (opts.memoryMiB === undefined && opts.cpus === undefined && opts.restartPolicy === undefined && opts.cpuOvercommit === undefined) {
    throw invalid('nothing to update: give memory, cpus or a restart policy', 'memoryMiB');
  }
  const config: InstanceRecord['config'] = {
    ...record.config,
    ...(opts.memoryMiB !== undefined && { memoryMiB: opts.memoryMiB }),
    ...(opts.cpus !== undefined && { cpus: opts.cpus }),
    ...(opts.cpuOvercommit === true && { cpuOvercommit: true }),
    ...(opts.restartPolicy !== undefined && { restartPolicy: { name: opts.restartPolicy.name, maximumRetryCount: opts.restartPolicy.maximumRetryCount ?? 0 } }),
  };
  if (config.autoRemove && (config.restartPolicy ?? NO_RESTART).name !== 'no') {
    throw invalid(`conflicting options: instance ${record.name} is removed when it exits (--rm): it cannot have a restart policy`, 'restartPolicy');
  }
  // The family's own rules (its memory minimum, its machine's CPU limit) and the host's CPUs, as the next start applies them.
  adapter.bootSpec(record.boot, bootConfig(config, networkSettings(config, []), host));
  checkImageMemory(config.memoryMiB, record.boot.labels);
  return config;
}

/** What the update says about a running VM: its memory and vCPUs change at its next start. */
export function updateWarnings(before: InstanceRecord['config'], after: InstanceRecord['config'], record: Pick<InstanceRecord, 'name' | 'family'>, live: boolean): string[] {
  const changed = [before.memoryMiB !== after.memoryMiB && `memory (${after.memoryMiB} MiB)`, before.cpus !== after.cpus && `cpus (${after.cpus})`].filter((c): c is string => c !== false);
  if (!live || changed.length === 0) return [];
  const [verb, them] = changed.length > 1 ? ['apply', 'them'] : ['applies', 'it'];
  return [`instance ${record.name} is running: the new ${changed.join(' and ')} ${verb} at its next start (QEMU cannot change ${them} while a ${record.family} guest runs)`];
}

export interface UpdateContext {
  save(record: InstanceRecord): Promise<unknown>;
  adapter: FamilyAdapter;
  host: HostFacts;
  /** Whether its VM runs now (running or paused). */
  live: boolean;
}

/** Change the stored record (one atomic write; on failure the record in memory is put back). */
export async function updateInstance(ctx: UpdateContext, record: InstanceRecord, opts: UpdateOptions): Promise<string[]> {
  if (record.state === 'removing') throw conflict(`instance ${record.name} is being removed`);
  const before = record.config;
  const after = updatedConfig(record, opts, ctx.adapter, ctx.host);
  record.config = after;
  try {
    await ctx.save(record);
  } catch (err) {
    record.config = before;
    throw err;
  }
  return updateWarnings(before, after, record, ctx.live);
}
