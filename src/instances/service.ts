// The instances service: the lifecycle state machine (created → running → exited; removing),
// name and id-prefix resolution, and the bridge between records and VM handles.
// One operation at a time per instance (a per-instance queue), so concurrent requests never
// interleave half-done transitions.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { constants } from 'node:os';
import { conflict, CunikError, invalid, notFound } from '../errors.js';
import type { FamilyAdapter, ImageBootInfo } from '../families/types.js';
import type { BootArtifacts } from '../images/types.js';
import type { AccelChoice, VmExit, VmHandle, VmmDriver, VmPaths } from '../vmm/types.js';
import { generateName } from './names.js';
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
}

/** Exit code recorded when the VMM itself failed (Docker's code for a container that could not run). */
export const EXIT_VMM_FAILED = 125;

export type InstanceEvent = { action: string; id: string; name: string; exitCode?: number };

export class InstanceService extends EventEmitter<{ event: [InstanceEvent]; exit: [string, number] }> {
  private readonly records = new Map<string, InstanceRecord>();
  private readonly handles = new Map<string, VmHandle>();
  private readonly names = new Set<string>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: InstanceServiceDeps) {
    super();
  }

  /** Load the store; re-adopt VMs that are still running, mark the others exited. */
  async init(): Promise<void> {
    await this.deps.store.init();
    for (const record of await this.deps.store.loadAll()) {
      this.records.set(record.id, record);
      this.names.add(record.name);
      if (record.state !== 'running' && record.state !== 'paused') continue;
      const handle = record.pid !== null ? this.deps.adopt?.(record.pid, this.deps.store.paths(record.id)) : undefined;
      if (handle) this.watch(record, handle);
      else await this.markExited(record, { status: null, signal: null }, 255);
    }
  }

  list(all: boolean): InstanceRecord[] {
    const list = [...this.records.values()].filter((r) => all || r.state === 'running' || r.state === 'paused');
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
    };
    const spec = adapter.bootSpec(boot, config);
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
      const { accel } = await this.deps.accelerator();
      const spec = this.deps.family(record.family).bootSpec(record.boot, record.config);
      const paths = this.deps.store.paths(record.id);
      const handle = await this.deps.driver.start(spec, paths, accel);
      Object.assign(record, {
        state: 'running',
        pid: handle.pid,
        startedAt: new Date().toISOString(),
        finishedAt: null,
        exitCode: null,
        vm: { driver: this.deps.driver.name, machine: spec.machine, accelerator: accel, argv: this.deps.driver.argv(spec, paths, accel) },
      } satisfies Partial<InstanceRecord>);
      this.watch(record, handle);
      await this.deps.store.save(record);
      // The VMM is up once it answers; if it dies first with an error of its own, start fails.
      const up = await Promise.race([handle.ready().then(() => true, () => false), handle.exited.then(() => false)]);
      if (!up) {
        const exit = await Promise.race([handle.exited, new Promise<undefined>((r) => setTimeout(r, 100))]);
        if (exit?.vmmError) throw new CunikError('INTERNAL', `the VM failed to start: ${exit.vmmError}`);
      }
      this.emit('event', { action: 'start', id: record.id, name: record.name });
      return record;
    });
  }

  stop(ref: string, timeoutSeconds = 10): Promise<InstanceRecord> {
    const record = this.get(ref);
    return this.serialize(record.id, async () => {
      const handle = this.handles.get(record.id);
      if (!handle) return record;
      const spec = this.deps.family(record.family).bootSpec(record.boot, record.config);
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
      const handle = this.handles.get(record.id);
      if (handle) {
        if (!force) throw conflict(`cannot remove running instance ${record.name}: stop it first or use -f`);
        handle.kill('SIGKILL');
        await this.settled(record.id);
        if (!this.records.has(record.id)) return; // auto-removed meanwhile
      }
      await this.drop(record);
    });
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
      const code = exit.vmmError ? EXIT_VMM_FAILED : this.deps.family(record.family).exitCode(exit);
      await this.markExited(record, exit, code);
      if (record.config.autoRemove && this.records.has(record.id)) {
        await this.serialize(record.id, async () => {
          if (this.records.has(record.id)) await this.drop(record);
        }).catch(() => undefined);
      }
    });
  }

  private async markExited(record: InstanceRecord, _exit: VmExit, code: number): Promise<void> {
    Object.assign(record, { state: 'exited', pid: null, exitCode: code, finishedAt: new Date().toISOString() });
    // Waiters hear of the exit before the (slower, fsynced) record write.
    this.emit('exit', record.id, code);
    this.emit('event', { action: 'die', id: record.id, name: record.name, exitCode: code });
    await this.deps.store.save(record).catch(() => undefined);
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
    this.emit('event', { action: 'destroy', id: record.id, name: record.name });
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
