// Booting an instance's VM, for a user's start or a restart by policy: choose its published ports,
// build its boot spec, create its disk overlays, start the VMM and wait until it answers.
// The caller (service.ts) runs this inside the instance's queue.
import { statSync } from 'node:fs';
import { conflict, CunikError, invalid } from '../errors.js';
import { isBridgeMode, NO_BRIDGE } from '../network/bridge/spec.js';
import { passtBindFailure } from '../network/passt.js';
import { bindablePorts } from '../network/probe.js';
import type { VmHandle } from '../vmm/types.js';
import { bootConfig, endpointsOf, extraNetworkSettings, networkSettings, type BridgeAttachment, type HostFacts } from './boot-config.js';
import { logicalOffset } from './console-exit.js';
import { startingHealth } from './health-spec.js';
import type { HealthTarget } from './health.js';
import type { InstanceRecord } from './record.js';
import type { NetworkSettings, PortBinding } from '../api/schemas.js';
import type { InstanceServiceDeps } from './service-deps.js';

export interface LaunchContext {
  deps: Pick<InstanceServiceDeps, 'accelerator' | 'bindPorts' | 'family' | 'store' | 'driver' | 'volumes' | 'networks'>;
  host(): HostFacts;
  /** Whether the instance has a live VM (watched by the service). */
  isRunning(id: string): boolean;
  /** Whether the instance still exists. */
  isKnown(id: string): boolean;
  /** The VMM is spawned (console.log had `consoleAt` bytes before): the service watches its exit and announces the start. */
  started(record: InstanceRecord, handle: VmHandle, consoleAt: number): void;
}

/**
 * Boots instances (launchInstance) and remembers, per instance being launched, whether its launch
 * failed: the exit of a VM whose start failed is no exit for the restart policy (service.ts).
 */
export class Launcher {
  private readonly failed = new Map<string, Promise<boolean>>();

  constructor(private readonly ctx: LaunchContext) {}

  /** Boot the instance's VM (a user's start, or a restart by policy); the caller runs it in the instance's queue. */
  launch(record: InstanceRecord): Promise<InstanceRecord> {
    const launched = launchInstance(this.ctx, record);
    const failed = launched.then(() => false, () => true);
    this.failed.set(record.id, failed);
    void failed.then(() => {
      if (this.failed.get(record.id) === failed) this.failed.delete(record.id);
    });
    return launched;
  }

  /** Resolves true if the instance's launch under way failed (undefined: none under way). */
  startFailed(id: string): Promise<boolean> | undefined {
    return this.failed.get(id);
  }
}

/** What a start changes in a record: put back as it was when the start fails. */
const START_FIELDS = ['state', 'pid', 'supervisorPid', 'consoleStart', 'startedAt', 'finishedAt', 'exitCode', 'exitCodeKnown', 'exitNote', 'exitSource', 'network', 'extraNetworks', 'vm', 'health', 'healthTarget'] as const;

export async function launchInstance(ctx: LaunchContext, record: InstanceRecord): Promise<InstanceRecord> {
  const { deps } = ctx;
  if (ctx.isRunning(record.id) || !ctx.isKnown(record.id)) return record;
  const before = Object.fromEntries(START_FIELDS.map((k) => [k, record[k]])) as Partial<InstanceRecord>;
  let handle: VmHandle | undefined;
  try {
    return await boot(ctx, record, (h) => (handle = h));
  } catch (err) {
    // A start that fails is no exit: the VM (if one was spawned) is ended, the record is put back
    // as it was (created, or its previous exit) with the error (Docker's State.Error), never
    // "Exited (0)". Its exit was seen as any other meanwhile; restart policies skip it (service.ts).
    const message = startError(err);
    if (handle) {
      handle.kill('SIGKILL');
      await handle.exited;
    }
    if (isBridgeMode(record.config.network ?? 'none')) await deps.networks?.detach(record.id).catch(() => undefined);
    Object.assign(record, before, { error: message });
    await deps.store.save(record).catch(() => undefined); // a full disk keeps the record it had
    throw err instanceof CunikError ? err : new CunikError('INTERNAL', message);
  }
}

/**
 * Where a run's health probes go: a bridge network's guest address; in user mode the host end of
 * the port's forward (published, or `hidden`), 0.0.0.0 reached through the loopback.
 */
export function probeTarget(port: number, network: NetworkSettings, hidden?: PortBinding): HealthTarget | null {
  if (isBridgeMode(network.mode)) return network.ipAddress !== null ? { host: network.ipAddress, port } : null;
  const b = hidden ?? network.ports.find((p) => p.proto === 'tcp' && p.guestPort === port);
  if (network.mode !== 'user' || b === undefined) return null;
  return { host: b.hostIp === '0.0.0.0' ? '127.0.0.1' : b.hostIp, port: b.hostPort, forwarded: true };
}

/** One sentence for a failed start: a full disk says so instead of "ENOSPC: ..., write". */
function startError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOSPC') return 'cannot start: no space left on the disk holding the daemon root';
  if (e.code === 'EDQUOT') return 'cannot start: disk quota exceeded on the daemon root';
  return e.message ?? String(err);
}

async function boot(ctx: LaunchContext, record: InstanceRecord, spawned: (h: VmHandle) => void): Promise<InstanceRecord> {
  const { deps } = ctx;
  const { accel } = await deps.accelerator();
  const mode = record.config.network ?? 'none';
  // Checked by binding (and free ones chosen) before anything is made: a taken port starts no VM.
  const health = record.config.health;
  const wanted = record.config.ports ?? [];
  // User mode: a health check's port that is not published gets a hidden forward from the host's
  // loopback (never shown in ports), so the probe reaches the guest as a published port would.
  const hidden = mode === 'user' && health !== undefined && !wanted.some((p) => p.proto === 'tcp' && p.guestPort === health.port);
  const bound = mode !== 'none' ? await (deps.bindPorts ?? bindablePorts)(hidden ? [...wanted, { guestPort: health!.port, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }] : wanted) : [];
  const ports = hidden ? bound.slice(0, -1) : bound;
  let bridges: BridgeAttachment[] = [];
  if (isBridgeMode(mode)) {
    if (deps.networks === undefined) throw invalid(NO_BRIDGE, 'network');
    // An IPv6 address only for a guest that can take one (InstanceNetwork.ip6).
    const ipv6 = deps.family(record.family).ipv6 === true;
    bridges = await deps.networks.attachAll(record.id, endpointsOf(record.config).map((e) => ({ ...e, ipv6 })), ports);
  }
  const network = networkSettings(record.config, ports, bridges[0]);
  const extraNetworks = extraNetworkSettings(record.config, bridges.slice(1));
  const spec = deps.family(record.family).bootSpec(record.boot, bootConfig(record.config, hidden ? { ...network, ports: bound } : network, ctx.host(), extraNetworks));
  const healthTarget = health === undefined ? null : probeTarget(health.port, network, hidden ? bound[bound.length - 1] : undefined);
  const paths = deps.store.paths(record.id);
  await deps.driver.prepareDisks(spec, paths);
  // QEMU reaches 9p shares after it has switched to the VM user: their folders must be that user's.
  const shares = (record.config.mounts ?? []).filter((m) => m.type === 'volume' && m.kind === 'share' && m.name !== undefined).map((m) => m.name!);
  if (shares.length > 0) await deps.volumes?.claimShares?.(shares);
  const consoleAt = statSync(paths.consoleLog, { throwIfNoEntry: false })?.size ?? 0;
  const handle = await deps.driver.start(spec, paths, accel);
  spawned(handle);
  Object.assign(record, {
    state: 'running',
    pid: handle.pid,
    supervisorPid: handle.pid,
    consoleStart: logicalOffset(paths.consoleLog, consoleAt),
    startedAt: new Date().toISOString(),
    finishedAt: null,
    exitCode: null,
    exitCodeKnown: null,
    exitNote: null,
    exitSource: null,
    error: null,
    network,
    extraNetworks,
    health: health === undefined ? (record.health ?? null) : startingHealth(record.health),
    healthTarget,
    vm: { driver: deps.driver.name, machine: spec.machine, accelerator: accel, argv: deps.driver.argv(spec, paths, accel) },
  } satisfies Partial<InstanceRecord>);
  ctx.started(record, handle, consoleAt);
  // "running" is persisted while QEMU comes up, so the fsync is not on the start's critical path
  // (a daemon restarted meanwhile adopts by the supervisor's pid and reads the VM's from its
  // pidfile: restore.ts). Writes of a record are queued: an exit meanwhile is saved after this.
  const saved = deps.store.save(record);
  saved.catch(() => undefined); // awaited below, unless the start fails first
  // The VMM is up once it answers; if it dies first with an error of its own, start fails.
  const up = await Promise.race([handle.ready().then(() => true, () => false), handle.exited.then(() => false)]);
  if (!up) {
    const exit = await Promise.race([handle.exited, new Promise<undefined>((r) => setTimeout(r, 100))]);
    if (exit?.vmmError) {
      const taken = passtBindFailure(exit.vmmError);
      throw taken !== undefined ? conflict(taken) : new CunikError('INTERNAL', `the VM failed to start: ${exit.vmmError}`);
    }
  } else {
    // QEMU wrote its pidfile before it answered: record the VM's own pid (for stats, ps).
    const vmPid = deps.store.vmPid(record.id);
    if (vmPid !== undefined && ctx.isRunning(record.id)) record.pid = vmPid;
  }
  await saved;
  return record;
}
