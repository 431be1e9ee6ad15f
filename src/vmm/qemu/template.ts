// VM templates: a spec that allows it (BootSpec.clone: Linux images on a root disk) is booted once
// up to the point where its init waits for an instance, saved, and every instance then starts as a
// copy-on-write clone of that state instead of booting its kernel. As Kata Containers' templates:
// - the template boot's RAM is a memfd that cunik-memhold (src/vmm/shim/cunik-memhold.c) makes,
//   holds, and seals against writes once the template's QEMU is gone; its device and vCPU state
//   goes to DIR/state (x-ignore-shared: the RAM is not in the stream, only the devices');
// - a clone maps that memfd privately (memory-backend-file share=off on /proc/HOLDER/fd/3): the
//   pages it only reads stay shared by every clone through the host's page cache, a write copies one;
// - the clone loads the state from its -incoming socket and runs on from there; the daemon then
//   hands its init the instance's words (time, fresh randomness, addresses, env, args) on the
//   virtio-serial port org.cunik.config (init.c, "a template boot"), and the init answers "ok".
// A template is keyed by everything the guest saw while it booted: the QEMU binary, the machine,
// memory, CPUs, devices, the shared command line and the identity of the kernel, initrd and disk
// files. Anything that fails while a template is made is logged and the instance boots whole.
// docs/qemu.md ("VM templates") has the measurements and the trade-offs.

import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, createReadStream, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CunikError } from '../../errors.js';
import type { Accelerator, BootSpec, VmPaths } from '../types.js';
import type { QemuArgvOptions } from './argv.js';
import { appeared } from './appear.js';
import { procCmdline } from './proc.js';
import { QmpClient } from './qmp.js';
import type { Spawner } from '../spawner.js';
import { onPath } from '../../util/on-path.js';

const IGNORE_SHARED = { capabilities: [{ capability: 'x-ignore-shared', state: true }] };

/** A template ready for clones. */
export interface VmTemplate {
  dir: string;
  /** cunik-memhold's pid: its fd 3 is the template's sealed RAM. */
  holder: number;
  state: string;
}

export interface VmTemplatesOptions {
  /** Where templates live (one folder each). */
  dir: string;
  /** cunik-memhold. */
  memhold: string;
  spawner: Spawner;
  /** The QEMU binary, as the driver runs it. */
  binary: string;
  /** The driver's argv builder, with the template's own options merged in. */
  argv: (spec: BootSpec, paths: VmPaths, accel: Accelerator, extra: Partial<QemuArgvOptions>) => string[];
  /** How long a template boot may take to reach its init. Default 120 s (TCG on a busy host). */
  bootTimeoutMs?: number;
  log?: (line: string) => void;
}

/** Templates not used for this long are removed (and their holders end) at the next sweep. */
const UNUSED_MS = 24 * 3600_000;

const fileId = (path: string): string => {
  const st = statSync(path);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
};

/** The files a template's guest booted from. */
const bootFiles = (spec: BootSpec): string[] => [spec.kernel, spec.initrd, ...spec.disks.map((d) => d.path)].filter((f): f is string => f !== undefined);

/**
 * A template keeps a hard link to each file it booted from (DIR/boot-N): the image and each
 * instance hold links of their own (instances/store.ts links its boot files), so a file whose only
 * link left is the template's belongs to an image that is gone, and so does the template.
 */
function linkBootFiles(spec: BootSpec, dir: string): void {
  bootFiles(spec).forEach((f, i) => {
    try {
      linkSync(f, join(dir, `boot-${i}`));
    } catch {
      /* another file system: that file is not watched */
    }
  });
}

/**
 * The templates whose image is gone: a boot file of theirs that has no link but templates' own
 * (several templates of one image link the same files).
 */
function orphaned(root: string, names: string[]): Set<string> {
  const files = names.flatMap((name) => {
    try {
      return readdirSync(join(root, name)).filter((n) => n.startsWith('boot-')).map((n) => ({ name, st: statSync(join(root, name, n)) }));
    } catch {
      return [];
    }
  });
  const templateLinks = new Map<string, number>();
  for (const { st } of files) templateLinks.set(`${st.dev}:${st.ino}`, (templateLinks.get(`${st.dev}:${st.ino}`) ?? 0) + 1);
  return new Set(files.filter(({ st }) => st.nlink <= templateLinks.get(`${st.dev}:${st.ino}`)!).map(({ name }) => name));
}

/** The spec a template boots: the shared command line, NICs that lead nowhere. Pure. */
export function templateSpec(spec: BootSpec): BootSpec {
  const { clone, ...rest } = spec;
  if (clone === undefined) throw new CunikError('INTERNAL', 'this boot spec cannot be cloned');
  return {
    ...rest,
    cmdline: clone.cmdline,
    nics: (spec.nics ?? []).map((n) => ({ backend: { type: 'unplugged' }, ...(n.pciSlot !== undefined && { pciSlot: n.pciSlot }) })),
  };
}

/** What a template is keyed by: everything its guest saw, files by identity. Pure but for the stat of each file. */
export function templateKey(spec: BootSpec, accel: Accelerator, binary: string): string {
  const t = templateSpec(spec);
  const id = {
    qemu: fileId(onPath(binary) ?? binary),
    accel,
    machine: t.machine,
    machineOptions: t.machineOptions ?? {},
    memoryMiB: t.memoryMiB,
    cpus: t.cpus,
    cmdline: t.cmdline,
    kernel: t.kernel !== undefined ? fileId(t.kernel) : null,
    initrd: t.initrd !== undefined ? fileId(t.initrd) : null,
    disks: t.disks.map((d) => ({ ...d, path: fileId(d.path) })),
    nics: t.nics,
    globals: t.globals ?? [],
    debugExit: t.debugExit,
    debugExitPort: t.debugExitPort ?? null,
    powerdown: t.powerdown,
  };
  return createHash('sha256').update(JSON.stringify(id)).digest('hex').slice(0, 32);
}

/** At most this much of a template's console goes at the head of each clone's (its last part). */
const CONSOLE_HEAD_MAX = 1 << 20;

/**
 * What the template's guest printed before it was saved (the kernel's lines; with `snapshot: app`,
 * the app's start): a clone's console begins with it, as a whole boot's would.
 */
export function templateConsole(t: VmTemplate): Buffer {
  try {
    const b = readFileSync(join(t.dir, 'console.log'));
    return b.length > CONSOLE_HEAD_MAX ? b.subarray(b.length - CONSOLE_HEAD_MAX) : b;
  } catch {
    return Buffer.alloc(0);
  }
}

/** The message a clone's init waits for (init.c receive_instance). */
export function instanceMessage(words: string[], now = Date.now(), seed = randomBytes(64)): Buffer {
  if (words.some((w) => w.includes('\0'))) throw new CunikError('INVALID_ARGUMENT', 'an instance word holds a NUL byte');
  const time = `${Math.floor(now / 1000)}.${String((now % 1000) * 1_000_000).padStart(9, '0')}`;
  return Buffer.from(['CUNIK1', `time=${time}`, `seed=${seed.toString('hex')}`, ...words].map((w) => `${w}\0`).join('') + '\0');
}

/** Connect to a unix socket that a process is about to create. */
async function connectWhenThere(path: string, deadline: number, signal?: AbortSignal): Promise<Socket> {
  for (;;) {
    signal?.throwIfAborted();
    if (existsSync(path)) {
      try {
        return await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ECONNREFUSED' && code !== 'ENOENT') throw err;
      }
    }
    if (Date.now() > deadline) throw new CunikError('INTERNAL', `${path} did not appear in time`);
    await appeared(path, Math.min(50, Math.max(1, deadline - Date.now())), signal);
  }
}

/** Resolves with the first line the socket sends (rejects when it closes first or at the deadline). */
function firstLine(s: Socket, deadline: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => finish(new CunikError('INTERNAL', `${what}: no answer in time`)), Math.max(0, deadline - Date.now()));
    const finish = (err: Error | undefined, line?: string): void => {
      clearTimeout(timer);
      s.off('data', onData).off('close', onClose);
      if (err) reject(err);
      else resolve(line!);
    };
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\n');
      if (i >= 0) finish(undefined, buf.slice(0, i));
    };
    const onClose = (): void => finish(new CunikError('INTERNAL', `${what}: the VM hung up`));
    s.on('data', onData).once('close', onClose);
  });
}

export class VmTemplates {
  private readonly making = new Map<string, Promise<VmTemplate | undefined>>();
  private readonly failed = new Set<string>();
  readonly log: (line: string) => void;

  constructor(private readonly opts: VmTemplatesOptions) {
    this.log = opts.log ?? (() => undefined);
    mkdirSync(opts.dir, { recursive: true, mode: 0o711 });
    this.sweep();
  }

  /**
   * Removes templates unused for a day, and those whose image is gone (linkBootFiles, orphaned): their
   * holders end when their folder goes. At the start, before each new
   * template, and when an image is removed (the daemon's image events).
   */
  sweep(now = Date.now()): void {
    const names = readdirSync(this.opts.dir);
    const gone = orphaned(this.opts.dir, names);
    for (const name of names) {
      const dir = join(this.opts.dir, name);
      if (this.making.has(name)) continue;
      const used = statSync(join(dir, 'used'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
      if (now - used > UNUSED_MS || gone.has(name)) rmSync(dir, { recursive: true, force: true });
    }
  }

  /**
   * The spec's template: one ready, or the one being made (waited for). With neither, one is made
   * beside and this returns undefined at once: the instance that asked first boots whole rather
   * than wait (a template boot, its save and a clone's restore took longer than one whole boot,
   * docs/qemu.md), and those that ask while it is made wait for it and start as its clones.
   * Undefined too for a key whose template could not be made (its instances boot whole from then on).
   */
  async get(spec: BootSpec, accel: Accelerator): Promise<VmTemplate | undefined> {
    let key: string;
    try {
      key = templateKey(spec, accel, this.opts.binary);
    } catch {
      return undefined;
    }
    if (this.failed.has(key)) return undefined;
    const dir = join(this.opts.dir, key);
    const found = this.existing(dir);
    if (found !== undefined) return found;
    const making = this.making.get(key);
    if (making !== undefined) return making;
    const p = this.make(spec, accel, dir)
      .catch((err: unknown) => {
        // Once per key and daemon: an image whose template cannot be made boots whole from then on.
        this.failed.add(key);
        this.log(`warning: VM template ${key}: ${(err as Error).message}; its instances boot whole`);
        return undefined;
      })
      .finally(() => this.making.delete(key));
    this.making.set(key, p);
    return undefined;
  }

  /** A template made earlier (by this daemon or one before it) whose holder still runs. */
  private existing(dir: string): VmTemplate | undefined {
    let holder: number;
    try {
      holder = Number(readFileSync(join(dir, 'holder.pid'), 'utf8').trim());
    } catch {
      return undefined;
    }
    const argv = Number.isInteger(holder) && holder > 0 ? procCmdline(holder) : undefined;
    if (argv === undefined || argv[1] !== '--hold' || argv[2] !== dir || !existsSync(join(dir, 'state'))) return undefined;
    const now = new Date();
    utimesSync(join(dir, 'used'), now, now);
    return { dir, holder, state: join(dir, 'state') };
  }

  private async make(spec: BootSpec, accel: Accelerator, dir: string): Promise<VmTemplate> {
    this.sweep();
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o711 });
    linkBootFiles(spec, dir);
    const paths: VmPaths = { dir, pidfile: join(dir, 'qemu.pid'), qmpSocket: join(dir, 'qmp.sock'), consoleLog: join(dir, 'console.log'), consoleSocket: join(dir, 'console.sock') };
    const configPort = join(dir, 'config.sock');
    const argv = this.opts.argv(templateSpec(spec), paths, accel, { memory: { path: '/proc/self/fd/3', share: true }, configPort });
    const deadline = Date.now() + (this.opts.bootTimeoutMs ?? 120_000);
    const t0 = Date.now();
    // QEMU connects to the migration socket as the VM user, who may not reach into the daemon's
    // root: a folder of its own in the temp dir (cunik-memhold takes only that QEMU's connection).
    const migDir = mkdtempSync(join(tmpdir(), 'cunik-template-'));
    chmodSync(migDir, 0o711);
    const migSocket = join(migDir, 'mig.sock');
    let spawned;
    try {
      spawned = await this.opts.spawner.spawn([this.opts.memhold, dir, migSocket, String(spec.memoryMiB * 2 ** 20), '--', ...argv], { stderrFile: join(dir, 'qemu.log') });
    } catch (err) {
      rmSync(migDir, { recursive: true, force: true });
      throw err;
    }
    const abort = new AbortController();
    void spawned.exited.then(() => abort.abort(new CunikError('INTERNAL', `the template boot ended early (${join(dir, 'qemu.log')}, ${paths.consoleLog})`)));
    let port: Socket | undefined;
    try {
      port = await connectWhenThere(configPort, deadline, abort.signal);
      const ready = await Promise.race([firstLine(port, deadline, 'the template'), new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error)))]);
      if (ready !== 'ready') throw new CunikError('INTERNAL', `the template's init said ${JSON.stringify(ready)}`);
      const qmp = await QmpClient.connect(paths.qmpSocket, { timeoutMs: 5000, signal: abort.signal });
      try {
        // Not stopped first: migration stops the VM itself before it saves the devices, and a
        // state saved running is one its clones start running from, with no `cont` of their own.
        // Pages of the shared backend are the memfd's: the stream holds the devices and vCPUs only.
        await qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
        await qmp.execute('migrate', { uri: `unix:${migSocket}` });
        for (;;) {
          const r = (await qmp.execute('query-migrate')) as { status?: string; 'error-desc'?: string };
          if (r.status === 'completed') break;
          if (r.status === 'failed' || r.status === 'cancelled') throw new CunikError('INTERNAL', `saving the template failed: ${r['error-desc'] ?? r.status}`);
          await new Promise((res) => setTimeout(res, 5));
        }
        await qmp.execute('quit').catch(() => undefined);
      } finally {
        qmp.close();
      }
      port.destroy();
      // cunik-memhold seals the RAM once QEMU is gone, then writes holder.pid.
      const pidFile = join(dir, 'holder.pid');
      while (!existsSync(pidFile)) {
        if (Date.now() > deadline) throw new CunikError('INTERNAL', 'the template was saved but its memory was not sealed in time');
        await appeared(pidFile, Math.max(1, deadline - Date.now()), abort.signal);
      }
      for (const f of ['qmp.sock', 'console.sock', 'config.sock', 'qemu.pid']) rmSync(join(dir, f), { force: true });
      rmSync(migDir, { recursive: true, force: true });
      writeFileSync(join(dir, 'used'), '');
      this.log(`VM template ${dir}: made in ${Date.now() - t0} ms`);
      return { dir, holder: spawned.pid, state: join(dir, 'state') };
    } catch (err) {
      port?.destroy();
      rmSync(migDir, { recursive: true, force: true });
      try {
        process.kill(-spawned.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      // Its logs stay for a look (qemu.log, console.log) until the next try or sweep removes them.
      rmSync(join(dir, 'state'), { force: true });
      throw err;
    }
  }

  /**
   * A clone's start, once its QEMU runs: feed it the template's state, then hand its init the
   * instance's words and wait for its "ok". Rejects (the caller ends the VM) on any failure.
   */
  async restore(t: VmTemplate, qmp: () => Promise<QmpClient>, incoming: string, configPort: string, words: string[], exited: Promise<unknown>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const abort = new AbortController();
    void exited.then(() => abort.abort(new CunikError('INTERNAL', 'the VM ended while it started from its template')));
    const port = await connectWhenThere(configPort, deadline, abort.signal);
    try {
      const answer = firstLine(port, deadline, 'the clone');
      answer.catch(() => undefined); // awaited below; a hang-up before then must not go unhandled
      const client = await qmp();
      // Before the stream starts: QEMU reads the capability when it loads the RAM section.
      await client.execute('migrate-set-capabilities', IGNORE_SHARED);
      const mig = await connectWhenThere(incoming, deadline, abort.signal);
      // QEMU may hang up before the file's end is read: the file is closed either way (an open
      // file in the template's folder would keep the folder alive after its removal).
      const src = createReadStream(t.state);
      try {
        await new Promise<void>((resolve, reject) => {
          src.once('error', reject);
          mig.once('error', reject);
          mig.once('close', () => resolve());
          src.pipe(mig);
        });
      } finally {
        src.destroy();
        mig.destroy();
      }
      // A state saved paused (an older template) leaves the clone paused: run it.
      for (;;) {
        const st = await client.execute<{ status: string }>('query-status');
        if (st.status === 'running') break;
        if (st.status !== 'inmigrate') {
          await client.execute('cont');
          break;
        }
        if (Date.now() > deadline) throw new CunikError('INTERNAL', 'the clone did not load its state in time');
        await new Promise((res) => setTimeout(res, 2));
      }
      port.write(instanceMessage(words));
      const ok = await Promise.race([answer, new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error)))]);
      if (ok !== 'ok') throw new CunikError('INTERNAL', `the clone's init said ${JSON.stringify(ok)}`);
    } finally {
      port.destroy();
    }
  }
}
