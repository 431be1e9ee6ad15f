// Ending an instance's VM: as its stop signal says (signals.ts), and its removal afterwards (its
// disks, its directory, its anonymous volumes). The caller (service.ts) runs these inside the
// instance's queue and keeps the bookkeeping (records, names, health, restarts).
import type { BootSpec, VmHandle } from '../vmm/types.js';
import { bootConfig, networkSettings, type HostFacts } from './boot-config.js';
import { removeVolumes } from './mounts.js';
import type { InstanceRecord } from './record.js';
import type { InstanceServiceDeps } from './service-deps.js';
import { DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT, STOP_SIGNALS } from './signals.js';

/** The boot spec of the instance's current (or last) start, for how to stop it and which disks it has. */
export function lastBootSpec(deps: Pick<InstanceServiceDeps, 'family'>, record: InstanceRecord, host: HostFacts): BootSpec {
  const network = record.network ?? networkSettings(record.config, []);
  return deps.family(record.family).bootSpec(record.boot, bootConfig(record.config, network, host));
}

export interface StopContext {
  deps: Pick<InstanceServiceDeps, 'driver' | 'family'>;
  host(): HostFacts;
  /** Resolves once the instance's VM has exited. */
  settled(id: string): Promise<void>;
}

/**
 * End a running VM as its stop signal says (signals.ts): SIGKILL ends it at once; the others press
 * the guest's power button (none on some machines: QEMU's SIGTERM at once) and, after the stop
 * timeout (`timeoutSeconds`, else the instance's, else 10), end the VM. Resolves once it has exited.
 */
export async function stopVm(ctx: StopContext, record: InstanceRecord, handle: VmHandle, timeoutSeconds: number | undefined, signal?: string): Promise<void> {
  if (STOP_SIGNALS[signal ?? record.config.stopSignal ?? DEFAULT_STOP_SIGNAL] === 'kill') handle.kill('SIGKILL');
  else {
    const seconds = timeoutSeconds ?? record.config.stopTimeout ?? DEFAULT_STOP_TIMEOUT;
    await ctx.deps.driver.stop(handle, lastBootSpec(ctx.deps, record, ctx.host()).powerdown === 'none' ? 0 : seconds * 1000);
  }
  await ctx.settled(record.id);
}

export interface RemoveContext {
  deps: Pick<InstanceServiceDeps, 'driver' | 'family' | 'store' | 'volumes'>;
  host(): HostFacts;
  /** The record's files are gone: the service forgets it (records, names, health, restarts) and announces it. */
  removed(record: InstanceRecord): void;
  /** The instances using a volume (an anonymous volume another instance uses stays). */
  volumeUsers(name: string): string[];
}

/** Delete an instance's files; `volumes`: and its anonymous volumes (run --rm, rm -v). */
export async function removeInstance(ctx: RemoveContext, record: InstanceRecord, volumes = false): Promise<void> {
  const { deps } = ctx;
  record.state = 'removing';
  // The driver's disks first (they may live outside the directory for another driver); the
  // directory's removal drops what is left.
  await Promise.resolve()
    .then(() => deps.driver.removeDisks(lastBootSpec(deps, record, ctx.host()), deps.store.paths(record.id)))
    .catch(() => undefined);
  await deps.store.remove(record.id);
  ctx.removed(record);
  if (volumes) {
    const anonymous = (record.config.mounts ?? []).flatMap((m) => (m.anonymous && m.name !== undefined ? [m.name] : []));
    await removeVolumes(deps.volumes, anonymous, ctx.volumeUsers);
  }
}
