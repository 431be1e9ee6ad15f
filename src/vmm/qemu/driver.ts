// The QEMU driver: spawns one detached QEMU per VM (own session, so it outlives the daemon), watches
// it event-driven, talks QMP lazily, re-adopts running QEMUs after a daemon restart, reads the exits
// cunik-shim recorded meanwhile, ends strays and makes the per-instance qcow2 overlays
// (DESIGN.md, "Instances" and "VMM: QEMU first"). No Node process per VM, no polling on the hot path.

import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { CunikError, conflict } from '../../errors.js';
import type { Accelerator, BootSpec, VmExit, VmHandle, VmmDriver, VmPaths } from '../types.js';
import { DEFAULT_QEMU_BINARY, QBOOT_ROM, qemuArgv, qmpArg, type QemuArgvOptions } from './argv.js';
import { templateConsole, VmTemplates } from './template.js';
import { QmpClient } from './qmp.js';
import { Spawner } from '../spawner.js';
import { PASST_BINARY, passtArgv } from '../../network/passt.js';
import { onPath } from '../../util/on-path.js';
import { runasArg, type VmUser } from '../vm-user.js';
import { prepareBootDir } from './boot-dir.js';
import { createOverlays, DEFAULT_QEMU_IMG, removeOverlays } from './overlay.js';
import { qemuExit } from './exit.js';
import { killStrays, lastRunStderr, markRun, procCmdline, procStartTime, recordedExit, runStderr, signalGroup, watchOrphan } from './proc.js';

export interface QemuDriverOptions {
  /** QEMU binary (a name looked up in PATH, or a path). Default qemu-system-x86_64. */
  binary?: string;
  /**
   * Firmware for pc/q35 guests booted with -kernel. Default: qboot if installed (QBOOT_ROM),
   * else QEMU's default SeaBIOS. null forces SeaBIOS.
   */
  bios?: string | null;
  /** How long powerdown()/qmp() keep trying to reach the QMP socket. Default 5000 ms. */
  qmpTimeoutMs?: number;
  /**
   * cunik-shim: run QEMU under it (its own process group), so the exit status survives a daemon
   * restart (paths.exitFile). Without it QEMU is the daemon's direct child.
   */
  shim?: string;
  /**
   * cunik-spawner: with `shim`, start each shim through this long-lived helper instead of
   * forking the daemon (src/vmm/spawner.ts).
   */
  spawner?: string;
  /**
   * Let QEMU back guest RAM and TCG's code buffer with transparent huge pages (it asks for them).
   * Default false: under a shim, the VM runs with THP off, since a small guest touches a few KiB
   * where each huge page costs 2 MiB (docs/qemu.md). Large, memory-hungry guests under KVM gain
   * from them: cunikd --vm-thp.
   */
  transparentHugepages?: boolean;
  /** TCG's translation cache per VM, MiB (QemuArgvOptions.tcgTbSizeMiB; cunikd --tcg-tb-size). */
  tcgTbSizeMiB?: number;
  /** Let KSM merge pages across VMs (QemuArgvOptions.memMerge; cunikd --vm-ksm). */
  memMerge?: boolean;
  /** Under a shim, the nice value the VM runs at (the daemon may run a little ahead of its VMs). */
  vmNice?: number;
  /** Loaded into passt (cunik-shim --net-preload): cunik-passt-fixes.so (src/vmm/shim/passt-fixes.c). */
  passtPreload?: string;
  /** qemu-img, for the per-instance overlays. Default qemu-img in PATH. */
  qemuImg?: string;
  /** stop(): how long to wait after SIGTERM before SIGKILL. Default 1000 ms. */
  termTimeoutMs?: number;
  /**
   * Confinement (docs/qemu.md): QEMU's seccomp sandbox, and under a shim no_new_privs and a
   * capability bounding set of what QEMU needs before -runas. Default true.
   */
  confine?: boolean;
  /** The user VMs switch to (-runas, passt --runas) when `switches`; see vm-user.ts. */
  vmUser?: VmUser;
  /** The passt binary for passt NICs (a name looked up in PATH, or a path). Default passt. */
  passt?: string;
  /**
   * VM templates (template.ts): specs that allow it start as clones of a template kept in `dir`,
   * whose RAM cunik-memhold holds. Needs `shim` and `spawner`. Default: none (every VM boots whole).
   */
  templates?: { dir: string; memhold: string; log?: (line: string) => void };
}

interface Started {
  pid: number;
  /** How the process started ended (for a shim: its own exit status). */
  ended: Promise<VmExit>;
  signal: (signal: NodeJS.Signals) => void;
}

/** A VmHandle with access to the VM's (single, shared) QMP connection. */
export interface QemuVmHandle extends VmHandle {
  /** True for a process found by adopt(): its exit status is unknown (VmExit is {status: null, signal: null}). */
  readonly adopted: boolean;
  /** The VM's QMP connection, opened on first use and kept until the VM exits. QEMU serves one QMP client at a time. */
  qmp(): Promise<QmpClient>;
}

export class QemuDriver implements VmmDriver {
  readonly name = 'qemu';
  readonly binary: string;
  readonly bios: string | undefined;
  private readonly qmpTimeoutMs: number;

  constructor(opts: QemuDriverOptions = {}) {
    this.binary = opts.binary ?? DEFAULT_QEMU_BINARY;
    this.bios = opts.bios === null ? undefined : (opts.bios ?? (existsSync(QBOOT_ROM) ? QBOOT_ROM : undefined));
    this.qmpTimeoutMs = opts.qmpTimeoutMs ?? 5000;
    this.shim = opts.shim;
    this.confine = opts.confine ?? true;
    this.runas = opts.vmUser?.switches === true ? runasArg(opts.vmUser) : undefined;
    this.passt = opts.passt ?? PASST_BINARY;
    this.passtPreload = opts.passtPreload;
    this.shimFlags = [
      ...(opts.transparentHugepages === true ? [] : ['--no-thp']),
      ...(opts.vmNice !== undefined ? ['--nice', String(opts.vmNice)] : []),
      ...(this.confine ? ['--confine'] : []),
    ];
    this.spawner = opts.spawner !== undefined ? new Spawner(opts.spawner) : undefined;
    this.qemuImg = opts.qemuImg ?? DEFAULT_QEMU_IMG;
    this.termTimeoutMs = opts.termTimeoutMs ?? 1000;
    this.tcgTbSizeMiB = opts.tcgTbSizeMiB;
    this.memMerge = opts.memMerge === true;
    if (opts.templates !== undefined && this.spawner !== undefined && this.shim !== undefined) {
      this.templates = new VmTemplates({
        ...opts.templates,
        spawner: this.spawner,
        binary: this.binary,
        argv: (spec, paths, accel, extra) => qemuArgv(spec, paths, accel, { ...this.argvOptions(), ...extra }),
      });
    }
  }

  private readonly templates: VmTemplates | undefined;

  /** Ends the templates of images that are gone (their boot files removed) and those unused for a day. */
  sweepTemplates(): void {
    try {
      this.templates?.sweep();
    } catch (err) {
      this.templates?.log(`warning: sweeping VM templates: ${(err as Error).message}`);
    }
  }

  private readonly qemuImg: string;
  private readonly tcgTbSizeMiB: number | undefined;
  private readonly memMerge: boolean;
  private readonly termTimeoutMs: number;

  /** Stop the spawner (VMs keep running). */
  close(): void {
    this.spawner?.close();
  }

  private readonly shim: string | undefined;
  private readonly shimFlags: string[];
  private readonly confine: boolean;
  private readonly runas: string | undefined;
  private readonly passt: string;
  private readonly passtPreload: string | undefined;
  private readonly spawner: Spawner | undefined;

  argv(spec: BootSpec, paths: VmPaths, accel: Accelerator): string[] {
    return qemuArgv(spec, paths, accel, this.argvOptions());
  }

  private argvOptions(): QemuArgvOptions {
    return {
      binary: this.binary,
      ...(this.tcgTbSizeMiB !== undefined && { tcgTbSizeMiB: this.tcgTbSizeMiB }),
      memMerge: this.memMerge,
      ...(this.bios !== undefined && { bios: this.bios }),
      ...(this.confine && { confine: this.runas !== undefined ? { runas: this.runas } : {} }),
    };
  }

  /** The shim's --net words for the spec's passt NIC (none without one): passt beside the VM. */
  private netHelper(spec: BootSpec, underShim: boolean): string[] {
    const nic = (spec.nics ?? []).find((n) => n.backend.type === 'passt');
    if (nic === undefined || nic.backend.type !== 'passt') return [];
    if (!underShim) throw new CunikError('INTERNAL', 'user-mode networking (passt) needs cunik-shim to start the VM');
    const binary = onPath(this.passt);
    if (binary === undefined) throw new CunikError('INTERNAL', `user-mode networking needs passt, which is not installed (apt-get install passt)`);
    const argv = passtArgv(nic.backend, { binary, ...(this.runas !== undefined && { runas: this.runas }) });
    return [...(this.passtPreload !== undefined ? ['--net-preload', this.passtPreload] : []), '--net', String(argv.length), ...argv];
  }

  /**
   * Spawn QEMU detached in its own session with stdio ignored (QEMU's stderr goes to paths.vmmLog when
   * set); resolves as soon as the process exists, without waiting for QMP. With a spawner, the
   * shim is started by it (the daemon does not fork); else by a spawn of this process.
   */
  async start(spec: BootSpec, paths: VmPaths, accel: Accelerator): Promise<QemuVmHandle> {
    const underShim = this.shim !== undefined && paths.exitFile !== undefined;
    // A clone of the spec's template (template.ts) where it has one ready or being made; else a
    // whole boot, and the template is made beside it.
    const template = spec.clone !== undefined && underShim ? await this.templates?.get(spec, accel) : undefined;
    const clone = template !== undefined ? { incoming: `${paths.qmpSocket.replace(/\.qmp$/, '')}.mig`, configPort: `${paths.qmpSocket.replace(/\.qmp$/, '')}.cfg` } : undefined;
    const argv = template !== undefined && clone !== undefined
      ? qemuArgv({ ...spec, cmdline: spec.clone!.cmdline }, paths, accel, { ...this.argvOptions(), memory: { path: `/proc/${template.holder}/fd/3`, share: false }, ...clone })
      : this.argv(spec, paths, accel);
    // Stale files of an earlier run: a pidfile that names a dead process, sockets nobody listens on.
    // (A check first: a fresh instance has none, and a failed unlink costs an Error with its stack.)
    for (const p of [paths.qmpSocket, paths.consoleSocket, paths.pidfile, paths.exitFile, clone?.incoming, clone?.configPort]) if (p && existsSync(p)) rmSync(p, { force: true });
    // QEMU runs where the boot files the guest sees by name are (multiboot: argv[0]).
    const cwd = prepareBootDir(spec, paths.dir);
    const flags = [...this.shimFlags, ...(underShim && cwd !== undefined ? ['--chdir', cwd] : []), ...this.netHelper(spec, underShim)];
    // A clone's console starts with what its template's guest printed before it was saved.
    if (template !== undefined) appendFileSync(paths.consoleLog, templateConsole(template));
    // This run's stderr begins after the marker; the console's size tells whether the guest ran.
    const errOffset = markRun(paths.vmmLog);
    const consoleAtStart = fileSize(paths.consoleLog);
    const { pid, ended, signal } =
      underShim && this.spawner
        ? await this.viaSpawner(this.spawner, [this.shim!, '--notify-fd', '3', ...flags, paths.exitFile!, ...argv], paths)
        : await this.viaSpawn(underShim ? [this.shim!, ...flags, paths.exitFile!, ...argv] : argv, paths, underShim ? undefined : cwd);
    const vmmLog = paths.vmmLog;
    const exited = ended.then((raw) => {
      // Under the shim, an exit code below 128 is QEMU's own (the shim's line, or the shim's status);
      // else its file says how QEMU ended (if it is not renamed into place yet, the shim's line
      // said it: raw); no file means the group was SIGKILLed.
      const how = underShim && !(raw.status !== null && raw.status < 128) ? (recordedExit(paths) ?? raw) : raw;
      const stderr = vmmLog !== undefined ? runStderr(vmmLog, errOffset) : '';
      return qemuExit(how, stderr, fileSize(paths.consoleLog) !== consoleAtStart);
    });
    const handle = new Handle(pid, paths.qmpSocket, exited, false, this.qmpTimeoutMs, underShim ? (sig) => signalGroup(pid, sig) : signal);
    if (template === undefined || clone === undefined) return handle;
    try {
      await this.templates!.restore(template, () => handle.qmp(), clone.incoming, clone.configPort, spec.clone!.words, exited);
      // Used once, at the start: nothing is left to connect to.
      for (const p of [clone.incoming, clone.configPort]) rmSync(p, { force: true });
      return handle;
    } catch (err) {
      for (const p of [clone.incoming, clone.configPort]) rmSync(p, { force: true });
      // A clone that does not come up is ended, and the instance boots whole instead.
      handle.kill('SIGKILL');
      await exited;
      this.templates!.log(`warning: a clone of VM template ${template.dir} did not start (${(err as Error).message}); booting whole`);
      return this.start({ ...spec, clone: undefined }, paths, accel);
    }
  }

  /** The shim started by cunik-spawner: no fork of the daemon. */
  private async viaSpawner(spawner: Spawner, command: string[], paths: VmPaths): Promise<Started> {
    let spawned;
    try {
      spawned = await spawner.spawn(command, { stderrFile: paths.vmmLog, notifyFd: true });
    } catch (err) {
      throw new CunikError('INTERNAL', `cannot start ${command[0]}: ${(err as Error).message}`);
    }
    const { pid } = spawned;
    // The spawner died first: the shim now belongs to init; watch it through /proc instead.
    const ended = spawned.exited.then((e) => (e === 'lost' ? watchOrphan(pid, paths) : { status: e.code, signal: e.signal }));
    return { pid, ended, signal: (sig) => signalGroup(pid, sig) };
  }

  /** QEMU (or the shim) as this process's own child; `cwd`: QEMU's directory when there is no shim to enter it. */
  private async viaSpawn(command: string[], paths: VmPaths, cwd?: string): Promise<Started> {
    let errFd: number | undefined;
    if (paths.vmmLog !== undefined) {
      try {
        errFd = openSync(paths.vmmLog, 'a');
      } catch (err) {
        throw new CunikError('INTERNAL', `cannot open ${paths.vmmLog}: ${(err as Error).message}`);
      }
    }
    let child;
    try {
      child = spawn(command[0]!, command.slice(1), { detached: true, stdio: ['ignore', 'ignore', errFd ?? 'ignore'], ...(cwd !== undefined && { cwd }) });
    } finally {
      if (errFd !== undefined) closeSync(errFd);
    }
    if (child.pid === undefined) {
      // spawn failed; the reason arrives as an 'error' event on the next tick.
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
      if (err.code === 'ENOENT') {
        throw new CunikError('INTERNAL', `QEMU binary not found: ${this.binary} (install the qemu-system-x86 package or set the binary path)`);
      }
      throw new CunikError('INTERNAL', `cannot start ${this.binary}: ${err.message}`);
    }
    child.on('error', () => {
      /* kill() failures; exit is reported through 'exit' */
    });
    const ended = new Promise<VmExit>((resolve) => child.once('exit', (code, signal) => resolve({ status: code, signal })));
    child.unref();
    return { pid: child.pid, ended, signal: (sig) => child.kill(sig) };
  }

  adopt(pid: number, paths: VmPaths): QemuVmHandle | undefined {
    return adopt(pid, paths, { qmpTimeoutMs: this.qmpTimeoutMs });
  }

  recordedExit(paths: VmPaths): VmExit | undefined {
    const recorded = recordedExit(paths);
    return recorded && qemuExit(recorded, lastRunStderr(paths.vmmLog));
  }

  killStrays(instances: VmPaths[]): number {
    return killStrays(instances);
  }

  stop(handle: VmHandle, timeoutMs: number): Promise<VmExit> {
    return stopGracefully(handle, timeoutMs, { termTimeoutMs: this.termTimeoutMs });
  }

  prepareDisks(spec: BootSpec, paths: VmPaths): Promise<string[]> {
    return createOverlays(spec, paths.dir, this.qemuImg);
  }

  removeDisks(spec: BootSpec, paths: VmPaths): Promise<void> {
    return removeOverlays(spec, paths.dir);
  }
}

const fileSize = (path: string): number => statSync(path, { throwIfNoEntry: false })?.size ?? 0;

class Handle implements QemuVmHandle {
  private done = false;
  private client: Promise<QmpClient> | undefined;
  private readonly abort = new AbortController();

  constructor(
    readonly pid: number,
    private readonly qmpSocket: string,
    readonly exited: Promise<VmExit>,
    readonly adopted: boolean,
    private readonly qmpTimeoutMs: number,
    private readonly signalFn: (signal: NodeJS.Signals) => void,
  ) {
    void exited.then(() => {
      this.done = true;
      this.abort.abort(conflict(`VM process ${pid} has exited`));
      void this.client?.then(
        (c) => c.close(),
        () => undefined,
      );
    });
  }

  qmp(): Promise<QmpClient> {
    if (this.done) return Promise.reject(conflict(`VM process ${this.pid} has exited`));
    return this.client ?? this.setClient(QmpClient.connect(this.qmpSocket, { timeoutMs: this.qmpTimeoutMs, signal: this.abort.signal }));
  }

  /** Remember a connection attempt (adopt() passes its liveness connection, which doubles as the shared one). */
  setClient(p: Promise<QmpClient>): Promise<QmpClient> {
    this.client = p;
    const forget = (): void => {
      if (this.client === p) this.client = undefined;
    };
    p.then((c) => (c.isClosed ? forget() : c.once('close', forget)), forget);
    return p;
  }

  async ready(): Promise<void> {
    const client = await this.qmp();
    // A VM we spawned reports its exit through its process, so an idle QMP connection would only
    // cost memory in the daemon (density): hang up; pause/powerdown reconnect when needed.
    // An adopted VM keeps it: there the connection closing is how its exit is seen.
    if (!this.adopted) client.close();
  }

  async pause(): Promise<void> {
    await (await this.qmp()).execute('stop');
  }

  async resume(): Promise<void> {
    await (await this.qmp()).execute('cont');
  }

  async powerdown(): Promise<void> {
    const c = await this.qmp();
    await c.execute('system_powerdown');
  }

  kill(signal: NodeJS.Signals): void {
    if (this.done) return;
    this.signalFn(signal);
  }
}

// ---- adopt ----------------------------------------------------------------------------------------

export interface AdoptOptions {
  /** How long to try to reach the QMP socket before falling back to polling /proc. Default 5000 ms. */
  qmpTimeoutMs?: number;
}

/**
 * Re-attach to a QEMU started earlier (by this or a previous daemon) for live restore. Returns
 * undefined unless pid is alive and its /proc/<pid>/cmdline carries this VM's -qmp socket.
 *
 * Exit is detected by the QMP connection closing (QEMU closes it as it exits), confirmed against
 * /proc. The exit status of a process that is not our child is unknowable: `exited` resolves with
 * {status: null, signal: null}. If QMP cannot be reached (another client holds it), the handle
 * falls back to checking /proc every 250 ms.
 */
export function adopt(pid: number, paths: VmPaths, opts: AdoptOptions = {}): QemuVmHandle | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const startTime = procStartTime(pid);
  const args = procCmdline(pid);
  if (startTime === undefined || args === undefined) return undefined;
  const want = qmpArg(paths.qmpSocket);
  const wantPrefix = want.slice(0, want.indexOf(',server='));
  if (!args.some((a) => a === want || a === wantPrefix || a.startsWith(wantPrefix + ','))) return undefined;

  // Under cunik-shim (its argv carries the exit file), the shim's file tells how QEMU ended and
  // signals go to the whole group; a shim gone without a file was SIGKILLed with its group.
  const underShim = paths.exitFile !== undefined && args.includes(paths.exitFile);
  const alive = (): boolean => procStartTime(pid) === startTime;
  let resolveExit!: (e: VmExit) => void;
  const exited = new Promise<VmExit>((resolve) => (resolveExit = resolve));
  let gone = false;
  const markGone = (): void => {
    if (gone) return;
    gone = true;
    resolveExit(underShim ? qemuExit(recordedExit(paths) ?? { status: null, signal: 'SIGKILL' }, lastRunStderr(paths.vmmLog)) : { status: null, signal: null });
  };
  // Poll /proc until the process is gone: briefly after QMP closed (QEMU is mid-exit), or as fallback.
  const pollUntilGone = (firstMs: number, maxMs: number): void => {
    let delay = firstMs;
    const tick = (): void => {
      if (gone) return;
      if (!alive()) return markGone();
      delay = Math.min(delay * 2, maxMs);
      setTimeout(tick, delay).unref();
    };
    tick();
  };

  const timeoutMs = opts.qmpTimeoutMs ?? 5000;
  const handle = new Handle(pid, paths.qmpSocket, exited, true, timeoutMs, (signal) => {
    if (!alive()) return;
    if (underShim) return signalGroup(pid, signal);
    try {
      process.kill(pid, signal);
    } catch {
      /* ESRCH: already gone */
    }
  });
  const abort = new AbortController();
  void exited.then(() => abort.abort(new Error('exited')));
  const client = QmpClient.connect(paths.qmpSocket, { timeoutMs, signal: abort.signal });
  handle.setClient(client);
  client.then(
    (c) => {
      if (c.isClosed) pollUntilGone(1, 250);
      else c.once('close', () => pollUntilGone(1, 250));
    },
    () => pollUntilGone(250, 250),
  );
  return handle;
}

// ---- stop -----------------------------------------------------------------------------------------

function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => resolve(undefined), Math.max(0, ms));
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

export interface StopOptions {
  /** How long to wait after SIGTERM before SIGKILL. Default 1000 ms. */
  termTimeoutMs?: number;
}

/**
 * Graceful stop: QMP system_powerdown (errors ignored), wait up to timeoutMs for the VM to exit; then
 * SIGTERM (QEMU exits with status 0 on it, reported as ended by SIGTERM: exit.ts) and up to
 * termTimeoutMs more; then SIGKILL. Resolves with how the VM ended.
 */
export async function stopGracefully(handle: VmHandle, timeoutMs: number, opts: StopOptions = {}): Promise<VmExit> {
  const deadline = Date.now() + timeoutMs;
  let exit: VmExit | undefined;
  // No grace period (a guest without a power button): don't even open QMP.
  if (timeoutMs > 0) {
    const powerdown = handle.powerdown().then(
      () => undefined,
      () => undefined,
    );
    // Bound the powerdown request itself by the same deadline (QMP may be slow to appear).
    await within(Promise.race([powerdown, handle.exited]), deadline - Date.now());
    exit = await within(handle.exited, deadline - Date.now());
    if (exit !== undefined) return exit;
  }
  handle.kill('SIGTERM');
  exit = await within(handle.exited, opts.termTimeoutMs ?? 1000);
  if (exit !== undefined) return exit;
  handle.kill('SIGKILL');
  return handle.exited;
}
