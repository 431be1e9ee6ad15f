// The instances service: the lifecycle state machine (created → running → exited; removing),
// name and id-prefix resolution, and the bridge between records and VM handles.
// One operation at a time per instance (a per-instance queue), so concurrent requests never
// interleave half-done transitions.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import type { NetworkMode, PortBinding, PortRequest } from '../api/schemas.js';
import { conflict, CunikError, invalid, notFound } from '../errors.js';
import { exitStatusOf } from '../families/exit.js';
import { hostTscKhz } from '../families/host.js';
import type { ExitStatus, FamilyAdapter, ImageBootInfo } from '../families/types.js';
import type { BootArtifacts } from '../images/types.js';
import { normalizePorts } from '../network/ports.js';
import { bindablePorts } from '../network/probe.js';
import type { AccelChoice, BootSpec, VmExit, VmHandle, VmmDriver, VmPaths } from '../vmm/types.js';
import { bootConfig, networkSettings, type HostFacts } from './boot-config.js';
import { createOverlays } from './overlays.js';
import { generateName } from './names.js';
import { nextBackoff, NO_RESTART, restartsOnDaemonStart, shouldRestart, type RestartPolicy } from './restart.js';
import type { InstanceRecord } from './record.js';
import type { InstanceStore } from './store.js';

/** What the service needs from the image store. */
export interface ImageLookup {
  inspect(ref: string): { id: string } | Promise<{ id: string }>;
  bootInfo(imageId: string): ImageBootInfo | Promise<ImageBootInfo>;
  bootArtifacts(imageId: string): BootArtifacts | Promise<BootArtifacts>;
}

export interface CreateOptions {
  image: string;
  name?: string | undefined;
  args?: string[] | undefined;
  env?: string[] | undefined;
  memoryMiB?: number | undefined;
  cpus?: number | undefined;
  autoRemove?: boolean | undefined;
  restartPolicy?: { name: RestartPolicy['name']; maximumRetryCount?: number | undefined } | undefined;
  /** Default 'user'. */
  network?: NetworkMode | undefined;
  ports?: PortRequest[] | undefined;
}

export interface StopVm {
  (handle: VmHandle, timeoutMs: number): Promise<VmExit>;
}

export interface InstanceServiceDeps {
  store: InstanceStore;
  images: ImageLookup;
  driver: VmmDriver;
  family: (name: string) => FamilyAdapter;
  accelerator: () => Promise<AccelChoice>;
  stopVm: StopVm;
  /** Re-attach to a VM that outlived a previous daemon; undefined if it is gone. */
  adopt?: (pid: number, paths: VmPaths) => VmHandle | undefined;
  /** How a VM that ended while no daemon watched it exited, if that was recorded. */
  recordedExit?: (paths: VmPaths) => VmExit | undefined;
  /** End VMs that run although their records say they do not (a crash between spawn and save). */
  killStrays?: (instances: VmPaths[]) => number;
  /** Host facts for the adapters; default: read from this host (families/host.ts). */
  host?: () => HostFacts;
  /** Check published ports and choose free ones for hostPort 0; default network/probe.ts. */
  bindPorts?: (ports: PortBinding[]) => Promise<PortBinding[]>;
  /** Create the copy-on-write overlays a spec needs (only those missing); default overlays.ts. */
  prepareDisks?: (spec: BootSpec, dir: string) => Promise<unknown>;
}

/** Exit code recorded when the VMM itself failed (Docker's code for a container that could not run). */
export const EXIT_VMM_FAILED = 125;

export type InstanceEvent = { action: string; id: string; name: string; exitCode?: number };

export class InstanceService extends EventEmitter<{ event: [InstanceEvent]; exit: [string, number] }> {
  private readonly records = new Map<string, InstanceRecord>();
  private readonly handles = new Map<string, VmHandle>();
  private readonly names = new Set<string>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Pending policy restarts and the last back-off used, per instance. */
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly backoffs = new Map<string, number>();

  constructor(private readonly deps: InstanceServiceDeps) {
    super();
  }

  /** Load the store; re-adopt VMs that are still running, mark the others exited. */
  async init(): Promise<void> {
    await this.deps.store.init();
    const notRunning: VmPaths[] = [];
    for (const record of await this.deps.store.loadAll()) {
      this.records.set(record.id, record);
      this.names.add(record.name);
      const paths = this.deps.store.paths(record.id);
      if (record.state !== 'running' && record.state !== 'paused') {
        notRunning.push(paths);
        continue;
      }
      const watched = record.supervisorPid ?? record.pid;
      const handle = watched ? this.deps.adopt?.(watched, paths) : undefined;
      if (handle) {
        this.watch(record, handle);
        continue;
      }
      // It ended while no daemon watched: its shim recorded how (no record: killed with its group).
      const exit = this.deps.recordedExit?.(paths) ?? { status: null, signal: 'SIGKILL' as const };
      await this.markExited(record, exitStatusOf(this.deps.family(record.family), exit));
    }
    this.deps.killStrays?.(notRunning);
    await this.deps.store.removeSocketsExcept(new Set(this.handles.keys()));
    // Like dockerd: `always` and (not stopped by hand) `unless-stopped` instances come back.
    for (const record of this.records.values()) {
      if (this.handles.has(record.id) || record.state === 'created') continue;
      if (restartsOnDaemonStart(record.config.restartPolicy ?? NO_RESTART, record.manuallyStopped ?? false)) {
        void this.serialize(record.id, () => this.launch(record)).catch(() => undefined);
      }
    }
  }

  list(all: boolean): InstanceRecord[] {
    const list = [...this.records.values()].filter((r) => all || r.state === 'running' || r.state === 'paused' || r.state === 'restarting');
    return list.sort((a, b) => b.created.localeCompare(a.created));
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
    for (const r of this.records.values()) if (r.imageId === imageId) return true;
    return false;
  }

  async create(opts: CreateOptions): Promise<InstanceRecord> {
    if (opts.name !== undefined && this.names.has(opts.name)) {
      throw conflict(`the name "${opts.name}" is already in use by instance ${this.get(opts.name).id.slice(0, 12)}`);
    }
    const image = await this.deps.images.inspect(opts.image);
    const boot = await this.deps.images.bootInfo(image.id);
    const adapter = this.deps.family(boot.family);
    const artefacts = await this.deps.images.bootArtifacts(image.id);
    // Re-check after the awaits: the name is reserved synchronously from here on.
    if (opts.name !== undefined && this.names.has(opts.name)) throw conflict(`the name "${opts.name}" is already in use`);
    const name = opts.name ?? generateName((n) => this.names.has(n));
    this.names.add(name);
    const id = randomBytes(32).toString('hex');
    const config = {
      args: opts.args ?? [],
      env: opts.env ?? [],
      memoryMiB: opts.memoryMiB ?? boot.memoryMiB,
      cpus: opts.cpus ?? boot.cpus,
      autoRemove: opts.autoRemove ?? false,
      restartPolicy: opts.restartPolicy ? { name: opts.restartPolicy.name, maximumRetryCount: opts.restartPolicy.maximumRetryCount ?? 0 } : NO_RESTART,
      network: opts.network ?? 'user',
      ports: normalizePorts(opts.ports ?? []),
    };
    if (config.autoRemove && config.restartPolicy.name !== 'no') throw invalid('conflicting options: --restart and --rm', 'restartPolicy');
    if (config.network === 'none' && config.ports.length > 0) throw invalid('conflicting options: published ports need a network (not --network none)', 'ports');
    const spec = adapter.bootSpec(boot, bootConfig(config, networkSettings(config, config.ports), this.host()));
    if (config.ports.length > 0 && !(spec.nics ?? []).some((n) => n.backend.type === 'user')) {
      throw invalid(`the ${boot.family} family attaches no network device for this image: ports cannot be published`, 'ports');
    }
    const draft: InstanceRecord = {
      id,
      name,
      image: opts.image,
      imageId: image.id,
      family: boot.family,
      state: 'created',
      created: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
      exitCode: null,
      pid: null,
      config,
      restartCount: 0,
      manuallyStopped: false,
      boot,
      vm: { driver: this.deps.driver.name, machine: spec.machine, accelerator: null, argv: [] },
    };
    const files: Record<string, string> = {};
    if (artefacts.kernel) files['kernel'] = artefacts.kernel;
    if (artefacts.initrd) files['initrd'] = artefacts.initrd;
    if (artefacts.disk) files['disk'] = artefacts.disk;
    try {
      const record = await this.deps.store.create(draft, files);
      this.records.set(id, record);
      this.emit('event', { action: 'create', id, name });
      return record;
    } catch (err) {
      this.names.delete(name);
      throw err;
    }
  }

  start(ref: string): Promise<InstanceRecord> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      if (record.state === 'running' || record.state === 'paused') return record;
      if (record.state === 'removing') throw conflict(`instance ${record.name} is being removed`);
      this.cancelRestart(record.id);
      record.manuallyStopped = false;
      try {
        return await this.launch(record);
      } catch (err) {
        // Like `docker run --rm`: an instance that could not start at all is removed too.
        if (record.config.autoRemove && record.state === 'created' && !this.handles.has(record.id)) await this.drop(record);
        throw err;
      }
    });
  }

  /** Boot the instance's VM (a user's start, or a restart by policy). Runs inside serialize(). */
  private async launch(record: InstanceRecord): Promise<InstanceRecord> {
    {
      if (this.handles.has(record.id) || !this.records.has(record.id)) return record;
      const { accel } = await this.deps.accelerator();
      const user = (record.config.network ?? 'none') === 'user';
      const ports = user ? await (this.deps.bindPorts ?? bindablePorts)(record.config.ports ?? []) : [];
      const network = networkSettings(record.config, ports);
      const spec = this.deps.family(record.family).bootSpec(record.boot, bootConfig(record.config, network, this.host()));
      const paths = this.deps.store.paths(record.id);
      await (this.deps.prepareDisks ?? createOverlays)(spec, paths.dir);
      const handle = await this.deps.driver.start(spec, paths, accel);
      Object.assign(record, {
        state: 'running',
        pid: handle.pid,
        supervisorPid: handle.pid,
        startedAt: new Date().toISOString(),
        finishedAt: null,
        exitCode: null,
        exitCodeKnown: null,
        exitNote: null,
        network,
        vm: { driver: this.deps.driver.name, machine: spec.machine, accelerator: accel, argv: this.deps.driver.argv(spec, paths, accel) },
      } satisfies Partial<InstanceRecord>);
      this.watch(record, handle);
      this.emit('event', { action: 'start', id: record.id, name: record.name });
      // The VMM is up once it answers; if it dies first with an error of its own, start fails.
      const up = await Promise.race([handle.ready().then(() => true, () => false), handle.exited.then(() => false)]);
      if (!up) {
        const exit = await Promise.race([handle.exited, new Promise<undefined>((r) => setTimeout(r, 100))]);
        if (exit?.vmmError) throw new CunikError('INTERNAL', `the VM failed to start: ${exit.vmmError}`);
      } else {
        // QEMU wrote its pidfile before it answered: record the VM's own pid (for stats, ps).
        const vmPid = Number(await readFile(paths.pidfile, 'utf8').catch(() => ''));
        if (vmPid > 0 && this.handles.has(record.id)) record.pid = vmPid;
      }
      if (this.handles.has(record.id)) await this.deps.store.save(record);
      return record;
    }
  }

  stop(ref: string, timeoutSeconds = 10): Promise<InstanceRecord> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      record.manuallyStopped = true;
      if (this.cancelRestart(record.id)) {
        record.state = 'exited';
        await this.deps.store.save(record);
      }
      const handle = this.handles.get(record.id);
      if (!handle) return record;
      const spec = this.specOf(record);
      await this.deps.stopVm(handle, spec.powerdown === 'none' ? 0 : timeoutSeconds * 1000);
      await this.settled(record.id);
      this.emit('event', { action: 'stop', id: record.id, name: record.name });
      return record;
    });
  }

  async restart(ref: string, timeoutSeconds = 10): Promise<InstanceRecord> {
    const record = await this.stop(ref, timeoutSeconds);
    await this.start(record.id);
    this.emit('event', { action: 'restart', id: record.id, name: record.name });
    return record;
  }

  kill(ref: string, signal = 'SIGKILL'): Promise<InstanceRecord> {
    const sig = normalizeSignal(signal);
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      const handle = this.handles.get(record.id);
      if (!handle) throw conflict(`instance ${record.name} is not running`);
      // Like dockerd: killing with the stop signals counts as a manual stop for restart policies.
      if (sig === 'SIGKILL' || sig === 'SIGTERM' || sig === 'SIGINT') record.manuallyStopped = true;
      handle.kill(sig);
      this.emit('event', { action: 'kill', id: record.id, name: record.name });
      if (sig === 'SIGKILL') await this.settled(record.id);
      return record;
    });
  }

  remove(ref: string, force: boolean): Promise<void> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      if (!this.records.has(record.id)) return;
      this.cancelRestart(record.id);
      const handle = this.handles.get(record.id);
      if (handle) {
        record.manuallyStopped = true;
        if (!force) throw conflict(`cannot remove running instance ${record.name}: stop it first or use -f`);
        handle.kill('SIGKILL');
        await this.settled(record.id);
        if (!this.records.has(record.id)) return; // auto-removed meanwhile
      }
      await this.drop(record);
    });
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
  async shutdownAll(timeoutSeconds = 10): Promise<void> {
    await Promise.all(
      [...this.handles.keys()].map((id) =>
        this.serialize(id, async () => {
          const handle = this.handles.get(id);
          const record = this.records.get(id);
          if (!handle || !record) return;
          const spec = this.specOf(record);
          await this.deps.stopVm(handle, spec.powerdown === 'none' ? 0 : timeoutSeconds * 1000);
          await this.settled(id);
        }).catch(() => undefined),
      ),
    );
    for (const id of this.restartTimers.keys()) this.cancelRestart(id);
  }

  /** Resolve with the exit code: at once if not running ("not-running"), else at the next exit. */
  wait(ref: string, condition: 'not-running' | 'next-exit' = 'not-running'): Promise<number> {
    const record = this.get(ref);
    if (condition === 'not-running' && !this.handles.has(record.id)) return Promise.resolve(record.exitCode ?? 0);
    return new Promise((resolve) => {
      const onExit = (id: string, code: number): void => {
        if (id !== record.id) return;
        this.off('exit', onExit);
        resolve(code);
      };
      this.on('exit', onExit);
    });
  }

  isRunning(id: string): boolean {
    return this.handles.has(id);
  }

  paths(id: string): VmPaths {
    return this.deps.store.paths(id);
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
    void handle.exited.then(async (exit) => {
      this.handles.delete(record.id);
      // A VMM failure is not the unikernel's exit: report it as Docker reports a failed start.
      const status: ExitStatus = exit.vmmError
        ? { code: EXIT_VMM_FAILED, known: true, note: `the VM failed to start: ${exit.vmmError}` }
        : exitStatusOf(this.deps.family(record.family), exit);
      await this.markExited(record, status);
      this.maybeRestart(record, status.code);
      if (record.config.autoRemove && this.records.has(record.id)) {
        await this.serialize(record.id, async () => {
          if (this.records.has(record.id)) await this.drop(record);
        }).catch(() => undefined);
      }
    });
  }

  /** Apply the restart policy to an exit: schedule the next start after the back-off. */
  private maybeRestart(record: InstanceRecord, exitCode: number): void {
    const policy = record.config.restartPolicy ?? NO_RESTART;
    if (!this.records.has(record.id) || record.config.autoRemove) return;
    if (!shouldRestart(policy, { exitCode, restartCount: record.restartCount ?? 0, manuallyStopped: record.manuallyStopped ?? false })) return;
    const uptime = Date.parse(record.finishedAt ?? '') - Date.parse(record.startedAt ?? '');
    const delay = nextBackoff(this.backoffs.get(record.id), Number.isFinite(uptime) ? uptime : 0);
    this.backoffs.set(record.id, delay);
    record.state = 'restarting';
    void this.deps.store.save(record).catch(() => undefined);
    const timer = setTimeout(() => {
      this.restartTimers.delete(record.id);
      void this.serialize(record.id, async () => {
        if (record.state !== 'restarting' || !this.records.has(record.id)) return;
        record.restartCount = (record.restartCount ?? 0) + 1;
        await this.launch(record);
      }).catch(() => {
        record.state = 'exited';
        void this.deps.store.save(record).catch(() => undefined);
      });
    }, delay);
    this.restartTimers.set(record.id, timer);
  }

  /** Cancel a pending policy restart; true if there was one. */
  private cancelRestart(id: string): boolean {
    const timer = this.restartTimers.get(id);
    if (!timer) return false;
    clearTimeout(timer);
    this.restartTimers.delete(id);
    return true;
  }

  private async markExited(record: InstanceRecord, status: ExitStatus): Promise<void> {
    const code = status.code;
    Object.assign(record, {
      state: 'exited',
      pid: null,
      supervisorPid: null,
      exitCode: code,
      exitCodeKnown: status.known,
      exitNote: status.note ?? null,
      finishedAt: new Date().toISOString(),
    } satisfies Partial<InstanceRecord>);
    // Waiters hear of the exit before the (slower, fsynced) record write.
    this.emit('exit', record.id, code);
    this.emit('event', { action: 'die', id: record.id, name: record.name, exitCode: code });
    await this.deps.store.save(record).catch(() => undefined);
    await this.deps.store.removeSockets(record.id).catch(() => undefined);
  }

  /** Resolves once the instance's VM has exited and its record says so. */
  private settled(id: string): Promise<void> {
    if (!this.handles.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const onExit = (exitedId: string): void => {
        if (exitedId !== id) return;
        this.off('exit', onExit);
        resolve();
      };
      this.on('exit', onExit);
    });
  }

  private async drop(record: InstanceRecord): Promise<void> {
    record.state = 'removing';
    await this.deps.store.remove(record.id);
    this.records.delete(record.id);
    this.names.delete(record.name);
    this.backoffs.delete(record.id);
    this.emit('event', { action: 'destroy', id: record.id, name: record.name });
  }

  private host(): HostFacts {
    return this.deps.host ? this.deps.host() : { tscKhz: hostTscKhz() };
  }

  /** The boot spec of the instance's current (or last) start, for how to stop it. */
  private specOf(record: InstanceRecord): BootSpec {
    const network = record.network ?? networkSettings(record.config, []);
    return this.deps.family(record.family).bootSpec(record.boot, bootConfig(record.config, network, this.host()));
  }

  private serialize<T>(id: string, op: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(id) ?? Promise.resolve();
    const next = previous.then(op, op);
    const tail = next.catch(() => undefined);
    this.queues.set(id, tail);
    void tail.then(() => {
      if (this.queues.get(id) === tail) this.queues.delete(id);
    });
    return next;
  }
}

/** Accept "KILL", "SIGKILL" or "9"; refuse anything else with a clear message. */
export function normalizeSignal(signal: string): NodeJS.Signals {
  const upper = signal.toUpperCase();
  const named = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (named in constants.signals) return named;
  if (/^\d+$/.test(signal)) {
    const found = Object.entries(constants.signals).find(([, n]) => n === Number(signal));
    if (found) return found[0] as NodeJS.Signals;
  }
  throw invalid(`invalid signal: ${signal}`, 'signal');
}
