// The instances service: the lifecycle state machine (created → running → exited; removing) and
// the bridge between records and VM handles.
// One operation at a time per instance (util/keyed-queue.ts), so concurrent requests never interleave
// half-done transitions. The known records and name/id-prefix resolution are in registry.ts,
// booting a VM in launch.ts, watching it end in vm-exit.ts, stopping and removing in stop.ts,
// live restore at daemon start in restore.ts, creating one in create.ts, renaming in rename.ts,
// waiting for exits in exit-waiters.ts, restart-policy scheduling in restart-scheduler.ts;
// dependencies and shared types in service-deps.ts.
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import type { CheckProblem } from '../api/check.js';
import { conflict } from '../errors.js';
import { hostTscKhz } from '../families/host.js';
import type { ExitStatus } from '../families/types.js';
import type { VmHandle, VmPaths } from '../vmm/types.js';
import type { CreateOptions, HostFacts } from './boot-config.js';
import { checkSetAside } from './check.js';
import { connectInstance, disconnectInstance } from './connect.js';
import type { Endpoint } from '../network/bridge/networks.js';
import { Launcher } from './launch.js';
import { createInstance } from './create.js';
import { exitThenRemoval, ExitWaiters } from './exit-waiters.js';
import type { HealthStatus } from './health-spec.js';
import { HealthMonitor } from './health.js';
import { VolumeUse } from './mounts.js';
import { PerInstanceQueue } from '../util/keyed-queue.js';
import type { InstanceRecord } from './record.js';
import { RestartScheduler } from './restart-scheduler.js';
import { dueAtDaemonStart, restoreInstances } from './restore.js';
import { exitedFields } from './exit-status.js';
import { InstanceRegistry } from './registry.js';
import { renameInstance } from './rename.js';
import type { InstanceEvent, InstanceServiceDeps, WaitCondition } from './service-deps.js';
import { normalizeSignal, stopSignal } from './signals.js';
import { removeInstance, stopVm, type RemoveContext, type StopContext } from './stop.js';
import { watchVmExit, type VmExitContext } from './vm-exit.js';
import { updateInstance, type UpdateOptions } from './update.js';
import { NO_RESTART } from './restart.js';

export type { CreateOptions } from './boot-config.js';
export { normalizeSignal } from './signals.js';
export type { UpdateOptions } from './update.js';
export { EXIT_VMM_FAILED, type ImageLookup, type InstanceEvent, type InstanceServiceDeps, type WaitCondition } from './service-deps.js';

export class InstanceService extends EventEmitter<{ event: [InstanceEvent] }> {
  private readonly waiters = new ExitWaiters();
  private readonly records = new InstanceRegistry();
  private readonly handles = new Map<string, VmHandle>();
  /** console.log's size when each running VM started: where its run's console begins (exit lines). */
  private readonly consoleStart = new Map<string, number>();
  private readonly volumeUse = new VolumeUse(() => this.records.values());
  private readonly queue = new PerInstanceQueue();
  private readonly restarts = new RestartScheduler({
    isKnown: (id) => this.records.has(id),
    save: (record) => this.deps.store.save(record),
    queue: (id, op) => this.serialize(id, op),
    launch: (record) => this.launch(record),
  });

  private readonly health = new HealthMonitor({ changed: (record, status) => this.healthChanged(record, status) });
  /** Instances ended for being unhealthy (run --restart-on-unhealthy): their exit is a failure. */
  private readonly unhealthyKills = new Set<string>();

  /** What the helper modules get of the service (vm-exit.ts, stop.ts). */
  private readonly exitContext: VmExitContext;
  private readonly stopContext: StopContext;
  private readonly removeContext: RemoveContext;
  private readonly launcher: Launcher;

  constructor(private readonly deps: InstanceServiceDeps) {
    super();
    this.exitContext = { deps: this.deps, isCurrent: (id, handle) => this.handles.get(id) === handle };
    this.stopContext = { deps: this.deps, host: () => this.host(), settled: (id) => this.settled(id) };
    this.removeContext = {
      deps: this.deps,
      host: () => this.host(),
      removed: (record) => {
        this.health.stop(record.id);
        this.records.forget(record);
        this.restarts.forget(record.id);
        this.waiters.cancel(record.id, conflict(`instance ${record.name} was removed before it exited`));
        this.emit('event', { action: 'destroy', id: record.id, name: record.name });
      },
      volumeUsers: (name) => this.volumeUsers(name),
    };
    this.launcher = new Launcher({
      deps: this.deps,
      host: () => this.host(),
      isRunning: (id) => this.handles.has(id),
      isKnown: (id) => this.records.has(id),
      started: (started, handle, consoleAt) => {
        this.consoleStart.set(started.id, consoleAt);
        this.watch(started, handle);
        this.emit('event', { action: 'start', id: started.id, name: started.name });
      },
    });
  }

  /** Load the store; re-adopt VMs that are still running, mark the others exited. */
  async init(): Promise<void> {
    await restoreInstances({
      deps: this.deps,
      register: (record) => this.records.add(record),
      watch: (record, handle) => this.watch(record, handle),
      markExited: (record, status, stderr) => this.markExited(record, status, stderr),
      running: () => this.handles.keys(),
    });
    this.records.sortByCreation();
    for (const record of dueAtDaemonStart(this.records.values(), (id) => this.handles.has(id))) {
      void this.serialize(record.id, () => this.launch(record)).catch(() => undefined);
    }
  }

  /** Newest first; `all`: the stopped ones too. */
  list(all: boolean): InstanceRecord[] {
    return this.records.list(all);
  }

  /** Resolve a name, a full id or a unique id prefix, as Docker does. */
  get(ref: string): InstanceRecord {
    return this.records.resolve(ref);
  }

  usesImage(imageId: string): boolean {
    return this.records.usesImage(imageId);
  }

  create(opts: CreateOptions): Promise<InstanceRecord> {
    return this.make(opts, true);
  }

  /**
   * Create and start, as `run -d`: the record is written once, by the start (store.create). A start
   * that fails leaves the instance created (removed with autoRemove), as a separate start would.
   */
  async run(opts: CreateOptions): Promise<InstanceRecord> {
    const record = await this.make(opts, false);
    try {
      return await this.start(record.id);
    } catch (err) {
      // Failed before the VM was spawned: the record is not on disk yet (written once if it was).
      if (this.records.has(record.id)) await this.deps.store.save(record).catch(() => undefined);
      throw err;
    }
  }

  private make(opts: CreateOptions, withRecord: boolean): Promise<InstanceRecord> {
    return createInstance(
      {
        deps: this.deps,
        host: () => this.host(),
        names: this.records.names,
        volumeUse: this.volumeUse,
        idOf: (name) => this.get(name).id,
        created: (record) => {
          this.records.add(record);
          this.emit('event', { action: 'create', id: record.id, name: record.name });
        },
      },
      opts,
      withRecord,
    );
  }

  /** Docker's rename: the name is free at once and the new one taken, in the record too. */
  rename(ref: string, name: string): Promise<InstanceRecord> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      const oldName = await renameInstance({ registry: this.records, save: (r) => this.deps.store.save(r) }, record, name);
      this.emit('event', { action: 'rename', id: record.id, name, attributes: { oldName } });
      return record;
    });
  }

  /** The instances (any state) that use a volume, as `volume rm` refuses it while there are any. */
  volumeUsers(name: string): string[] {
    return this.volumeUse.of(name);
  }

  start(ref: string): Promise<InstanceRecord> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      if (record.state === 'running' || record.state === 'paused') return record;
      if (record.state === 'removing') throw conflict(`instance ${record.name} is being removed`);
      this.restarts.cancel(record.id);
      record.manuallyStopped = false;
      try {
        return await this.launch(record);
      } catch (err) {
        // Like `docker run --rm`: an instance that could not start at all is removed too.
        if (record.config.autoRemove && record.state === 'created' && !this.handles.has(record.id)) await this.drop(record, true);
        throw err;
      }
    });
  }

  /**
   * `timeoutSeconds` (stop -t): default the instance's stop timeout (run --stop-timeout), else 10;
   * `signal` (stop -s): this stop's instead of the instance's stop signal.
   */
  stop(ref: string, timeoutSeconds?: number, signal?: string): Promise<InstanceRecord> {
    const sig = signal === undefined ? undefined : stopSignal(signal, 'signal');
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      record.manuallyStopped = true;
      if (this.restarts.cancel(record.id)) {
        record.state = 'exited';
        await this.deps.store.save(record);
      }
      const handle = this.handles.get(record.id);
      if (!handle) return record;
      await this.stopVm(record, handle, timeoutSeconds, sig);
      this.emit('event', { action: 'stop', id: record.id, name: record.name });
      return record;
    });
  }

  async restart(ref: string, timeoutSeconds?: number, signal?: string): Promise<InstanceRecord> {
    const record = await this.stop(ref, timeoutSeconds, signal);
    await this.start(record.id);
    this.emit('event', { action: 'restart', id: record.id, name: record.name });
    return record;
  }

  /** docker update: memory, vCPUs (from the next start) and the restart policy (at once) of the record (update.ts). */
  update(ref: string, opts: UpdateOptions): Promise<{ record: InstanceRecord; warnings: string[] }> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      const ctx = { save: (r: InstanceRecord) => this.deps.store.save(r), adapter: this.deps.family(record.family), host: this.host(), live: this.handles.has(record.id) };
      const warnings = await updateInstance(ctx, record, opts);
      // A restart the old policy scheduled does not happen under `no`.
      if ((record.config.restartPolicy ?? NO_RESTART).name === 'no' && this.restarts.cancel(record.id)) {
        record.state = 'exited';
        await this.deps.store.save(record);
      }
      this.emit('event', { action: 'update', id: record.id, name: record.name });
      return { record, warnings };
    });
  }

  kill(ref: string, signal = 'SIGKILL'): Promise<InstanceRecord> {
    const sig = normalizeSignal(signal);
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      const handle = this.handles.get(record.id);
      if (!handle) throw conflict(`instance ${record.name} is not running`);
      // Like dockerd (daemon/kill.go, no custom stop signal): any kill by the user is a manual stop,
      // which restart policies never override; a signal from outside the API is a failure (128 + n).
      record.manuallyStopped = true;
      handle.kill(sig);
      this.emit('event', { action: 'kill', id: record.id, name: record.name });
      if (sig === 'SIGKILL') await this.settled(record.id);
      return record;
    });
  }

  /** `volumes`: also the anonymous volumes made for it (rm -v), unless another instance uses them. */
  remove(ref: string, force: boolean, volumes = false): Promise<void> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      if (!this.records.has(record.id)) return;
      this.restarts.cancel(record.id);
      const handle = this.handles.get(record.id);
      if (handle) {
        record.manuallyStopped = true;
        if (!force) throw conflict(`cannot remove running instance ${record.name}: stop it first or use -f`);
        handle.kill('SIGKILL');
        await this.settled(record.id);
        if (!this.records.has(record.id)) return; // auto-removed meanwhile
      }
      await this.drop(record, volumes);
    });
  }

  /** network connect: one more bridge network at the next start (connect.ts). */
  connect(ref: string, endpoint: Endpoint): Promise<InstanceRecord> {
    const record = this.get(ref);
    return this.serialize(record.id, () => connectInstance({ deps: this.deps, host: () => this.host() }, record, endpoint));
  }

  /** network disconnect: no NIC on that network from the next start. */
  disconnect(ref: string, network: string): Promise<InstanceRecord> {
    const record = this.get(ref);
    return this.serialize(record.id, () => disconnectInstance({ deps: this.deps, host: () => this.host() }, record, network));
  }

  pause(ref: string): Promise<InstanceRecord> {
    return this.setPaused(ref, true);
  }

  unpause(ref: string): Promise<InstanceRecord> {
    return this.setPaused(ref, false);
  }

  /** Freeze (pause) or thaw the VM's vCPUs; the state is recorded and announced. */
  private setPaused(ref: string, paused: boolean): Promise<InstanceRecord> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      const handle = this.handles.get(record.id);
      if (!handle || record.state !== (paused ? 'running' : 'paused')) throw conflict(`instance ${record.name} is not ${paused ? 'running' : 'paused'}`);
      await (paused ? handle.pause() : handle.resume());
      record.state = paused ? 'paused' : 'running';
      await this.deps.store.save(record);
      this.emit('event', { action: paused ? 'pause' : 'unpause', id: record.id, name: record.name });
      return record;
    });
  }

  /** Daemon shutdown with --shutdown-instances: stop every VM (not a manual stop: policies still apply at the next start). */
  async shutdownAll(timeoutSeconds?: number): Promise<void> {
    await Promise.all(
      [...this.handles.keys()].map((id) =>
        this.serialize(id, async () => {
          const handle = this.handles.get(id);
          const record = this.records.byId(id);
          if (!handle || !record) return;
          await this.stopVm(record, handle, timeoutSeconds);
        }).catch(() => undefined),
      ),
    );
    this.restarts.cancelAll();
    this.health.stopAll();
  }

  /** The instance's health status for ps --filter health=: 'none' without a health check. */
  healthStatus(record: InstanceRecord): HealthStatus | 'none' {
    return record.config.health === undefined ? 'none' : (record.health?.status ?? 'starting');
  }

  /**
   * A health status changed: saved and announced (Docker's `health_status: healthy` event). An
   * unhealthy instance with restartOnUnhealthy is ended (SIGKILL, not a manual stop), and its exit
   * goes to the restart policy as a failure (watch()).
   */
  private healthChanged(record: InstanceRecord, status: HealthStatus): void {
    const last = record.health?.log[record.health.log.length - 1];
    this.emit('event', { action: `health_status: ${status}`, id: record.id, name: record.name, ...(last !== undefined && { attributes: { output: last.output } }) });
    void this.deps.store.save(record).catch(() => undefined);
    // Only for a policy that brings it back (update --restart no may have dropped it since).
    if (status !== 'unhealthy' || record.config.health?.restartOnUnhealthy !== true || (record.config.restartPolicy?.name ?? 'no') === 'no') return;
    void this.serialize(record.id, async () => {
      const handle = this.handles.get(record.id);
      if (handle === undefined || record.state !== 'running' || record.health?.status !== 'unhealthy') return;
      this.unhealthyKills.add(record.id);
      this.health.stop(record.id);
      handle.kill('SIGKILL');
      await this.settled(record.id);
    }).catch(() => undefined);
  }

  /**
   * Resolve with the exit code: at once if not running ("not-running"), else at the next exit.
   * `signal` (a client that hung up, a log stream closed): the waiter is dropped and the promise
   * rejects with an AbortError, so nothing outlives the one who waits.
   */
  wait(ref: string, condition: WaitCondition = 'not-running', signal?: AbortSignal): Promise<number> {
    const record = this.get(ref);
    if (condition === 'not-running' && !this.handles.has(record.id)) return Promise.resolve(record.exitCode ?? 0);
    // 'removed' (run --rm): the exit's code once the instance is also removed (exit-waiters.ts).
    if (condition === 'removed') return exitThenRemoval(this.waiters, this, (id) => this.records.has(id), record.id, signal);
    return this.waiters.next(record.id, signal);
  }

  /** What this service holds for others: pending waits and listeners (the leak tests' debug endpoint). */
  debugResources(): { pendingWaits: number; instanceListeners: number; healthProbes: number } {
    const pendingWaits = this.waiters.pending();
    const instanceListeners = this.eventNames().reduce((n, e) => n + this.listenerCount(e), 0);
    return { pendingWaits, instanceListeners, healthProbes: this.health.active() };
  }

  isRunning(id: string): boolean {
    return this.handles.has(id);
  }

  paths(id: string): VmPaths {
    return this.deps.store.paths(id);
  }

  /** system check: the records set aside at restore (check.ts); `repair` ends their VMs and deletes them. */
  checkRecords(repair: boolean): CheckProblem[] {
    return checkSetAside(this.deps, repair);
  }

  counts(): { total: number; running: number; paused: number; stopped: number } {
    return this.records.counts();
  }

  private watch(record: InstanceRecord, handle: VmHandle): void {
    this.handles.set(record.id, handle);
    // Probing resumes for a VM adopted at daemon start as for one started now.
    this.health.start(record);
    watchVmExit(this.exitContext, record, handle, this.consoleStart.get(record.id), async (status, stderr) => {
      this.health.stop(record.id);
      const unhealthy = this.unhealthyKills.delete(record.id);
      this.handles.delete(record.id);
      this.consoleStart.delete(record.id);
      await this.markExited(record, status, stderr);
      // The exit of a start that failed (launch.ts puts the record back): no policy restart, and
      // --rm is start()'s to apply.
      if (await this.launcher.startFailed(record.id)) return;
      // Ended for being unhealthy: a failure for the policy, whatever the VM's own exit said.
      this.restarts.afterExit(record, unhealthy && status.code === 0 ? 1 : status.code);
      if (record.config.autoRemove && this.records.has(record.id)) {
        await this.serialize(record.id, async () => {
          if (this.records.has(record.id)) await this.drop(record, true);
        }).catch(() => undefined);
      }
    });
  }

  private async markExited(record: InstanceRecord, status: ExitStatus, stderr?: string): Promise<void> {
    const code = status.code;
    Object.assign(record, exitedFields(status, stderr));
    // Waiters hear of the exit before the (slower, fsynced) record write.
    this.waiters.settle(record.id, code);
    this.emit('event', { action: 'die', id: record.id, name: record.name, exitCode: code });
    await this.deps.store.save(record).catch(() => undefined);
    await this.deps.store.removeSockets(record.id).catch(() => undefined);
  }

  /** Resolves once the instance's VM has exited (its waiters have heard; the record write follows). */
  private async settled(id: string): Promise<void> {
    if (this.handles.has(id)) await this.waiters.next(id);
  }

  /** Forget an instance and its files; `volumes`: and its anonymous volumes (run --rm, rm -v). */
  private drop(record: InstanceRecord, volumes = false): Promise<void> {
    return removeInstance(this.removeContext, record, volumes);
  }

  /** Boot the instance's VM (a user's start, or a restart by policy). Runs inside serialize(). */
  private launch(record: InstanceRecord): Promise<InstanceRecord> {
    return this.launcher.launch(record);
  }

  private host(): HostFacts {
    return this.deps.host ? this.deps.host() : { tscKhz: hostTscKhz(), cpus: availableParallelism() };
  }

  /** End a running VM as its stop signal says (stop.ts); resolves once it has exited. */
  private stopVm(record: InstanceRecord, handle: VmHandle, timeoutSeconds: number | undefined, signal?: string): Promise<void> {
    return stopVm(this.stopContext, record, handle, timeoutSeconds, signal);
  }

  private serialize<T>(id: string, op: () => Promise<T>): Promise<T> {
    return this.queue.run(id, op);
  }
}
