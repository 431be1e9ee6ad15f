// The instances service: the lifecycle state machine (created → running → exited; removing),
// name and id-prefix resolution, and the bridge between records and VM handles.
// One operation at a time per instance (util/keyed-queue.ts), so concurrent requests never interleave
// half-done transitions. Booting a VM is in launch.ts, live restore at daemon start in restore.ts,
// creating one in create.ts, waiting for exits in exit-waiters.ts,
// restart-policy scheduling in restart-scheduler.ts; dependencies and shared types in service-deps.ts.
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { CheckProblem } from '../api/check.js';
import { conflict, invalid, notFound } from '../errors.js';
import { hostTscKhz } from '../families/host.js';
import type { ExitStatus } from '../families/types.js';
import type { BootSpec, VmHandle, VmPaths } from '../vmm/types.js';
import { bootConfig, networkSettings, type CreateOptions, type HostFacts } from './boot-config.js';
import { checkSetAside } from './check.js';
import { connectInstance, disconnectInstance } from './connect.js';
import type { Endpoint } from '../network/bridge/networks.js';
import { launchInstance } from './launch.js';
import { createInstance } from './create.js';
import { ExitWaiters } from './exit-waiters.js';
import type { HealthStatus } from './health-spec.js';
import { HealthMonitor } from './health.js';
import { removeVolumes, VolumeUse } from './mounts.js';
import { PerInstanceQueue } from '../util/keyed-queue.js';
import type { InstanceRecord } from './record.js';
import { RestartScheduler } from './restart-scheduler.js';
import { dueAtDaemonStart, restoreInstances } from './restore.js';
import { adoptedRunStart, watchConsoleExit } from './console-exit.js';
import { exitedFields, instanceExitStatus, runConsole } from './exit-status.js';
import type { InstanceEvent, InstanceServiceDeps, WaitCondition } from './service-deps.js';
import { DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT, normalizeSignal, STOP_SIGNALS, stopSignal } from './signals.js';
import { updateInstance, type UpdateOptions } from './update.js';
import { NO_RESTART } from './restart.js';

export type { CreateOptions } from './boot-config.js';
export { normalizeSignal } from './signals.js';
export type { UpdateOptions } from './update.js';
export { EXIT_VMM_FAILED, type ImageLookup, type InstanceEvent, type InstanceServiceDeps, type WaitCondition } from './service-deps.js';

const fileSize = (path: string): number => statSync(path, { throwIfNoEntry: false })?.size ?? 0;

export class InstanceService extends EventEmitter<{ event: [InstanceEvent] }> {
  private readonly waiters = new ExitWaiters();
  private readonly records = new Map<string, InstanceRecord>();
  private readonly handles = new Map<string, VmHandle>();
  /** console.log's size when each running VM started: where its run's console begins (exit lines). */
  private readonly consoleStart = new Map<string, number>();
  private readonly names = new Set<string>();
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

  constructor(private readonly deps: InstanceServiceDeps) {
    super();
  }

  /** Load the store; re-adopt VMs that are still running, mark the others exited. */
  async init(): Promise<void> {
    await restoreInstances({
      deps: this.deps,
      register: (record) => {
        this.records.set(record.id, record);
        this.names.add(record.name);
      },
      watch: (record, handle) => this.watch(record, handle),
      markExited: (record, status, stderr) => this.markExited(record, status, stderr),
      running: () => this.handles.keys(),
    });
    // Creation order (ISO timestamps sort as strings), so that list() needs no sort.
    const restored = [...this.records.values()].sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
    this.records.clear();
    for (const r of restored) this.records.set(r.id, r);
    for (const record of dueAtDaemonStart(this.records.values(), (id) => this.handles.has(id))) {
      void this.serialize(record.id, () => this.launch(record)).catch(() => undefined);
    }
  }

  /** Newest first: `records` is kept in creation order (sorted once at init, appended to since). */
  list(all: boolean): InstanceRecord[] {
    const list: InstanceRecord[] = [];
    for (const r of this.records.values()) if (all || r.state === 'running' || r.state === 'paused' || r.state === 'restarting') list.push(r);
    return list.reverse();
  }

  /** Resolve a name, a full id or a unique id prefix, as Docker does. */
  get(ref: string): InstanceRecord {
    const byId = this.records.get(ref);
    if (byId) return byId;
    for (const r of this.records.values()) if (r.name === ref) return r;
    const matches = [...this.records.values()].filter((r) => r.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw invalid(`ambiguous instance id prefix: ${ref} matches ${matches.length} instances`);
    throw notFound(`no such instance: ${ref}`);
  }

  usesImage(imageId: string): boolean {
    return [...this.records.values()].some((r) => r.imageId === imageId);
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
        names: this.names,
        volumeUse: this.volumeUse,
        idOf: (name) => this.get(name).id,
        created: (record) => {
          this.records.set(record.id, record);
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
      if (record.name === name) throw invalid(`instance ${name} already has that name`, 'name');
      if (record.state === 'removing') throw conflict(`instance ${record.name} is being removed`);
      if (this.names.has(name)) throw conflict(`the name "${name}" is already in use by instance ${this.get(name).id.slice(0, 12)}`);
      const oldName = record.name;
      this.names.add(name);
      record.name = name;
      try {
        await this.deps.store.save(record);
      } catch (err) {
        record.name = oldName;
        this.names.delete(name);
        throw err;
      }
      this.names.delete(oldName);
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

  /** Per instance being launched: resolves true if the launch fails (watch() reads it). */
  private readonly startFailed = new Map<string, Promise<boolean>>();

  /** Boot the instance's VM (a user's start, or a restart by policy). Runs inside serialize(). */
  private launch(record: InstanceRecord): Promise<InstanceRecord> {
    const launched = this.launchVm(record);
    const failed = launched.then(() => false, () => true);
    this.startFailed.set(record.id, failed);
    void failed.then(() => {
      if (this.startFailed.get(record.id) === failed) this.startFailed.delete(record.id);
    });
    return launched;
  }

  private launchVm(record: InstanceRecord): Promise<InstanceRecord> {
    return launchInstance(
      {
        deps: this.deps,
        host: () => this.host(),
        isRunning: (id) => this.handles.has(id),
        isKnown: (id) => this.records.has(id),
        started: (started, handle, consoleAt) => {
          this.consoleStart.set(started.id, consoleAt);
          this.watch(started, handle);
          this.emit('event', { action: 'start', id: started.id, name: started.name });
        },
      },
      record,
    );
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
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      const handle = this.handles.get(record.id);
      if (!handle || record.state !== 'running') throw conflict(`instance ${record.name} is not running`);
      await handle.pause();
      record.state = 'paused';
      await this.deps.store.save(record);
      this.emit('event', { action: 'pause', id: record.id, name: record.name });
      return record;
    });
  }

  unpause(ref: string): Promise<InstanceRecord> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      const handle = this.handles.get(record.id);
      if (!handle || record.state !== 'paused') throw conflict(`instance ${record.name} is not paused`);
      await handle.resume();
      record.state = 'running';
      await this.deps.store.save(record);
      this.emit('event', { action: 'unpause', id: record.id, name: record.name });
      return record;
    });
  }

  /** Daemon shutdown with --shutdown-instances: stop every VM (not a manual stop: policies still apply at the next start). */
  async shutdownAll(timeoutSeconds?: number): Promise<void> {
    await Promise.all(
      [...this.handles.keys()].map((id) =>
        this.serialize(id, async () => {
          const handle = this.handles.get(id);
          const record = this.records.get(id);
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
    if (condition === 'removed') return this.exitThenRemoval(record.id, signal);
    return this.waiters.next(record.id, signal);
  }

  /**
   * 'removed' (run --rm, as Docker's CLI waits): the next exit's code, once the instance is also
   * removed, so a name can be used again as soon as the wait answers. The destroy listener is
   * registered with the exit waiter, before either can happen.
   */
  private exitThenRemoval(id: string, signal?: AbortSignal): Promise<number> {
    let listener: ((e: InstanceEvent) => void) | undefined;
    const removed = new Promise<void>((resolve) => {
      listener = (e) => {
        if (e.id === id && e.action === 'destroy') resolve();
      };
      this.on('event', listener);
    });
    const done = (): void => {
      if (listener) this.off('event', listener);
    };
    signal?.addEventListener('abort', done, { once: true });
    return this.waiters.next(id, signal).then(
      async (code) => {
        if (this.records.has(id)) await removed;
        done();
        return code;
      },
      (err: unknown) => {
        done();
        throw err;
      },
    );
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
    const c = { total: 0, running: 0, paused: 0, stopped: 0 };
    for (const r of this.records.values()) {
      c.total++;
      if (r.state === 'running') c.running++;
      else if (r.state === 'paused') c.paused++;
      else c.stopped++;
    }
    return c;
  }

  private watch(record: InstanceRecord, handle: VmHandle): void {
    this.handles.set(record.id, handle);
    // Probing resumes for a VM adopted at daemon start as for one started now.
    this.health.start(record);
    const consoleLog = this.deps.store.paths(record.id).consoleLog;
    // An adopted VM (started by an earlier daemon): its run's console from the start its record
    // gives, so an exit line printed while no daemon ran is seen at once.
    const from = this.consoleStart.get(record.id) ?? adoptedRunStart(consoleLog, record.consoleStart);
    // A guest that halts after printing its exit is stopped once it has (a record without its
    // run's start: from the console's end as found, since what is before may be an earlier run's).
    const halted = watchConsoleExit(this.deps.family(record.family), consoleLog, from ?? fileSize(consoleLog), () => {
      if (this.handles.get(record.id) === handle) void this.deps.driver.stop(handle, 0).catch(() => undefined);
    });
    void handle.exited.then(async (exit) => {
      halted?.close();
      this.health.stop(record.id);
      const unhealthy = this.unhealthyKills.delete(record.id);
      this.handles.delete(record.id);
      this.consoleStart.delete(record.id);
      const status = instanceExitStatus(this.deps.family(record.family), exit, () => runConsole(consoleLog, from));
      await this.markExited(record, status, exit.stderr);
      // The exit of a start that failed (launch.ts puts the record back): no policy restart, and
      // --rm is start()'s to apply.
      if (await this.startFailed.get(record.id)) return;
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
  private async drop(record: InstanceRecord, volumes = false): Promise<void> {
    record.state = 'removing';
    // The driver's disks first (they may live outside the directory for another driver); the
    // directory's removal drops what is left.
    await Promise.resolve()
      .then(() => this.deps.driver.removeDisks(this.specOf(record), this.deps.store.paths(record.id)))
      .catch(() => undefined);
    await this.deps.store.remove(record.id);
    this.health.stop(record.id);
    this.records.delete(record.id);
    this.names.delete(record.name);
    this.restarts.forget(record.id);
    this.emit('event', { action: 'destroy', id: record.id, name: record.name });
    if (volumes) {
      const anonymous = (record.config.mounts ?? []).flatMap((m) => (m.anonymous && m.name !== undefined ? [m.name] : []));
      await removeVolumes(this.deps.volumes, anonymous, (n) => this.volumeUsers(n));
    }
  }

  private host(): HostFacts {
    return this.deps.host ? this.deps.host() : { tscKhz: hostTscKhz(), cpus: availableParallelism() };
  }

  /**
   * End a running VM as its stop signal says (signals.ts): SIGKILL ends it at once; the others press
   * the guest's power button (none on some machines: QEMU's SIGTERM at once) and, after the stop
   * timeout (`timeoutSeconds`, else the instance's, else 10), end the VM. Resolves once it has exited.
   */
  private async stopVm(record: InstanceRecord, handle: VmHandle, timeoutSeconds: number | undefined, signal?: string): Promise<void> {
    if (STOP_SIGNALS[signal ?? record.config.stopSignal ?? DEFAULT_STOP_SIGNAL] === 'kill') handle.kill('SIGKILL');
    else {
      const seconds = timeoutSeconds ?? record.config.stopTimeout ?? DEFAULT_STOP_TIMEOUT;
      await this.deps.driver.stop(handle, this.specOf(record).powerdown === 'none' ? 0 : seconds * 1000);
    }
    await this.settled(record.id);
  }

  /** The boot spec of the instance's current (or last) start, for how to stop it. */
  private specOf(record: InstanceRecord): BootSpec {
    const network = record.network ?? networkSettings(record.config, []);
    return this.deps.family(record.family).bootSpec(record.boot, bootConfig(record.config, network, this.host()));
  }

  private serialize<T>(id: string, op: () => Promise<T>): Promise<T> {
    return this.queue.run(id, op);
  }
}
