// The daemon's side of every instance's serial console (docs/console.md). QEMU writes
// console.log itself (logfile=..., logappend=on, opened O_APPEND) and serves the console socket;
// this module
// - watches the console.log of each created or running instance (one inotify watch, no fd) and
//   appends (logical offset, time) records to console.idx whenever the log grows, so `logs
//   --since` and `--timestamps` know when each line arrived;
// - caps console.log: once it reaches the maximum size its older part moves to console.log.1 (one
//   backup) in place, so QEMU never notices: FALLOC_FL_COLLAPSE_RANGE where the file system has it
//   (ext4, XFS: nothing is lost), else copy-then-truncate (a few microseconds' window for loss);
// - relays `attach` sessions: the daemon is QEMU's one client on the console socket, shared by
//   every session of the instance, connected only while a session exists.
import { execFile } from 'node:child_process';
import { ftruncateSync, readSync, watch, writeSync, type FSWatcher, type Stats } from 'node:fs';
import { appendFile, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { DetachScanner } from '../api/detach-keys.js';
import { atomicWriteFile } from '../util/atomic-write.js';
import {
  consoleFiles,
  decodeIndex,
  encodeIndex,
  encodeRecord,
  loadIndex,
  staticConsole,
  type ConsoleFiles,
  type ConsoleIndex,
  type ConsoleLayout,
  type ConsoleSource,
  type IndexRecord,
} from './logs.js';

export const DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024;
/** Below this a console could not hold one screen of output: refused. */
export const MIN_LOG_MAX_SIZE = 4096;

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A size as `--log-max-size` takes it: bytes, or a number with k, m, g, t (binary multiples, as
 * Docker's max-size: 10m = 10 MiB), optionally followed by b, ib or iB: "10m", "10MiB", "512k", "4096".
 */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!m) throw new Error(`invalid size: ${JSON.stringify(value)} (use e.g. 10m, 512k, 1g, or a number of bytes)`);
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new Error(`invalid size: ${JSON.stringify(value)} (too large)`);
  return bytes;
}

export interface ConsoleManagerOptions {
  /** console.log's cap in bytes; the backup holds at most as much again. */
  maxSize?: number;
  paths: (id: string) => { consoleLog: string; consoleSocket: string };
  /** Least time between two index records of a console while it grows (default 10 ms). */
  recordIntervalMs?: number;
  /** 'auto': collapse where the file system can, else copy-then-truncate; 'truncate': always the latter. */
  rotation?: 'auto' | 'truncate';
}

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  detachKeys: Buffer;
  /**
   * The session's output, instead of the socket's: for a session opened before the instance
   * starts, the log followed from its end, because the guest can print before QEMU accepts the
   * daemon's connection (QEMU creates the socket only as it starts) and the socket has no replay.
   */
  output?: Readable | undefined;
}

/** What the manager needs to know of an instance. */
export interface ConsoleInstance {
  id: string;
  state: string;
}

const LIVE_STATES = new Set(['created', 'running', 'paused', 'restarting']);
const RECENT_RECORDS = 64;
/** An attached client further behind than this loses output rather than slowing the guest. */
const CLIENT_BUFFER_LIMIT = 4 * 1024 * 1024;
/** Input typed before QEMU's socket is connected waits here, up to this much. */
const PENDING_INPUT_LIMIT = 1024 * 1024;

const execFileAsync = promisify(execFile);

/** Wall-clock time (ms): a monotonic clock with a finer fraction would drift from it over a daemon's life. */
const nowMs = (): number => Date.now();

export class ConsoleManager {
  readonly maxSize: number;
  readonly recordIntervalMs: number;
  readonly rotation: 'auto' | 'truncate';
  /** Cap on records per index (thinned beyond it): about maxSize/8 bytes of index. */
  readonly maxRecords: number;
  private readonly live = new Map<string, LiveConsole>();
  private readonly closing = new Map<string, Promise<void>>();
  private readonly relays = new Map<string, Relay>();
  /** Devices whose file system refused FALLOC_FL_COLLAPSE_RANGE. */
  readonly noCollapse = new Set<number>();

  constructor(private readonly opts: ConsoleManagerOptions) {
    this.maxSize = opts.maxSize ?? DEFAULT_LOG_MAX_SIZE;
    if (!(this.maxSize >= MIN_LOG_MAX_SIZE)) throw new Error(`the console log cap must be at least ${MIN_LOG_MAX_SIZE} bytes`);
    this.recordIntervalMs = opts.recordIntervalMs ?? 10;
    this.rotation = opts.rotation ?? 'auto';
    this.maxRecords = Math.max(4096, Math.floor(this.maxSize / 128));
  }

  files(id: string): ConsoleFiles {
    return consoleFiles(this.opts.paths(id).consoleLog);
  }

  /**
   * At daemon start: record what every console gained while no daemon watched (stamped with the
   * log's mtime, the latest time it can have been written), cap it, and watch the live ones.
   */
  async init(instances: Iterable<ConsoleInstance>): Promise<void> {
    const once: Promise<void>[] = [];
    for (const i of instances) {
      if (LIVE_STATES.has(i.state)) this.watch(i.id);
      else once.push(this.scanOnce(i.id));
    }
    await Promise.all(once);
  }

  /** Follow the instance's lifecycle events (InstanceService 'event'). */
  onEvent(e: { action: string; id: string }): void {
    switch (e.action) {
      case 'create':
      case 'start':
        this.watch(e.id);
        break;
      case 'die':
        this.unwatch(e.id);
        this.relays.get(e.id)?.endSoon();
        break;
      case 'destroy':
        this.unwatch(e.id);
        this.relays.get(e.id)?.end();
        break;
    }
  }

  /** Start watching an instance's console (idempotent). */
  watch(id: string): void {
    if (this.live.get(id)?.closed === false) return;
    const c = new LiveConsole(this, this.files(id), this.closing.get(id));
    this.live.set(id, c);
  }

  /** Stop watching, after recording what the log gained last. */
  unwatch(id: string): void {
    const c = this.live.get(id);
    if (!c) return;
    this.live.delete(id);
    const closed = c.close();
    this.closing.set(id, closed);
    void closed.then(() => {
      if (this.closing.get(id) === closed) this.closing.delete(id);
    });
  }

  private async scanOnce(id: string): Promise<void> {
    const c = new LiveConsole(this, this.files(id), this.closing.get(id), false);
    await c.close();
  }

  /** The console to read: the watched one (kept in step with rotations), else the files as they are. */
  source(id: string): ConsoleSource {
    return this.live.get(id) ?? staticConsole(this.files(id));
  }

  isWatched(id: string): boolean {
    return this.live.has(id);
  }

  /**
   * Relay `client` (an upgraded connection) to the instance's console socket: its bytes go to the
   * guest (with stdin), the guest's output comes back (with stdout) from the socket, or from
   * `output` when given. The detach keys end the session and are not passed on. The session ends
   * when the instance exits (or `output` ends) or the client goes.
   */
  attach(id: string, client: Socket, opts: AttachOptions): void {
    let relay = this.relays.get(id);
    if (!relay || relay.closed) {
      const r = new Relay(this.opts.paths(id).consoleSocket, () => {
        if (this.relays.get(id) === r) this.relays.delete(id);
      });
      this.relays.set(id, r);
      relay = r;
    }
    relay.add(client, opts);
  }

  /** Sessions attached to an instance (for tests and diagnostics). */
  sessions(id: string): number {
    return this.relays.get(id)?.size ?? 0;
  }

  /** Daemon shutdown: end every attach session (the instances keep running) and stop watching. */
  async close(): Promise<void> {
    for (const r of this.relays.values()) r.end();
    await Promise.all([...this.live.keys()].map((id) => (this.unwatch(id), this.closing.get(id))));
  }
}

/**
 * One watched console: its layout, the index's tail, the inotify watch. Every change to the files
 * (index appends, rotations) runs through one queue, so they never interleave.
 */
class LiveConsole implements ConsoleSource {
  shift = 0;
  backupStart = 0;
  headCut = false;
  logCut = false;
  /** Logical offset the last record covers. */
  end = 0;
  lastTime = 0;
  records = 0;
  gen = 0;
  rotating: Promise<void> | undefined;
  closed = false;
  private readonly ready: Promise<void>;
  private queue: Promise<void>;
  private watcher: FSWatcher | undefined;
  private readonly listeners = new Set<() => void>();
  private recentRecords: IndexRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastObserve = 0;
  private observing = false;
  private dirty = false;
  /** The first observation stamps growth with the log's mtime: it happened while nobody watched. */
  private fresh = true;

  constructor(
    private readonly mgr: ConsoleManager,
    readonly files: ConsoleFiles,
    previous: Promise<void> | undefined,
    watchFile = true,
  ) {
    this.ready = (previous ?? Promise.resolve()).then(() => this.load());
    this.queue = this.ready.catch(() => undefined);
    if (watchFile) {
      void this.ready.then(() => {
        if (this.closed) return;
        try {
          this.watcher = watch(files.log, () => this.schedule());
          this.watcher.on('error', () => this.watcher?.close());
        } catch {
          // No log (yet): the next observation finds out.
        }
      }, () => undefined);
    }
    this.observeNow().catch(() => undefined);
  }

  private async load(): Promise<void> {
    const buf = await readFile(this.files.index).catch(() => undefined);
    const decoded = buf && decodeIndex(buf);
    const index: ConsoleIndex = decoded ?? (await loadIndex(this.files));
    this.shift = index.shift;
    this.backupStart = index.backupStart;
    this.headCut = index.headCut ?? false;
    this.logCut = index.logCut ?? false;
    const last = index.records[index.records.length - 1];
    this.end = last?.offset ?? index.shift;
    this.lastTime = last?.time ?? 0;
    this.records = index.records.length;
    this.recentRecords = index.records.slice(-RECENT_RECORDS);
    // A new console, or one from before indexes: start its index (appends need the header).
    if (!decoded) await writeFile(this.files.index, encodeIndex(index, index.records)).catch(() => undefined);
  }

  // ConsoleSource
  async layout(): Promise<{ layout: ConsoleLayout; gen: number }> {
    await this.ready;
    while (this.rotating) await this.rotating;
    return { layout: this.currentLayout(), gen: this.gen };
  }

  private currentLayout(): ConsoleLayout {
    return { shift: this.shift, backupStart: this.backupStart, headCut: this.headCut, logCut: this.logCut };
  }

  stale(gen: number): boolean {
    return gen !== this.gen || this.rotating !== undefined;
  }

  async index(): Promise<ConsoleIndex> {
    await this.observeNow().catch(() => undefined);
    return this.enqueue(async () => {
      const index = await loadIndex(this.files);
      return { ...index, ...this.currentLayout() };
    });
  }

  recent(offset: number): IndexRecord[] {
    return this.recentRecords.filter((r) => r.offset > offset);
  }

  async untimed(): Promise<number> {
    return nowMs();
  }

  subscribe(wake: () => void): () => void {
    this.listeners.add(wake);
    return () => this.listeners.delete(wake);
  }

  /** Record what the log gained and stop watching; readers holding this console keep working. */
  async close(): Promise<void> {
    await this.observeNow().catch(() => undefined);
    this.closed = true;
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
    await this.queue;
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** An inotify event: observe now, or once the record interval has passed (leading and trailing edge). */
  private schedule(): void {
    if (this.closed) return;
    // Followers read at once; the index record may come up to an interval later.
    for (const wake of this.listeners) wake();
    if (this.observing) {
      this.dirty = true;
      return;
    }
    if (this.timer) return;
    const wait = this.lastObserve + this.mgr.recordIntervalMs - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
      return;
    }
    this.observing = true;
    this.lastObserve = Date.now();
    void this.observeNow()
      .catch(() => undefined)
      .finally(() => {
        this.observing = false;
        if (this.dirty) {
          this.dirty = false;
          this.schedule();
        }
      });
  }

  /** Bring the index up to date with the log now (and rotate if it is over the cap). */
  observeNow(): Promise<void> {
    return this.enqueue(() => this.observe());
  }

  private async observe(): Promise<void> {
    if (this.closed) return;
    const st = await stat(this.files.log).catch(() => undefined);
    if (!st) return; // removed (or never created)
    let changed = false;
    if (this.shift + st.size < this.end) {
      // The log shrank behind our back (truncated by hand): what it holds now comes after all we knew.
      this.gen++;
      this.shift = this.end;
      this.backupStart = this.shift;
      this.headCut = this.logCut = false;
      await this.rewriteIndex([]);
      changed = true;
    }
    const end = this.shift + st.size;
    if (end > this.end) {
      const time = Math.max(this.fresh ? st.mtimeMs : nowMs(), this.lastTime);
      const record = { offset: end, time };
      await appendFile(this.files.index, encodeRecord(record));
      this.end = end;
      this.lastTime = time;
      this.records++;
      this.recentRecords.push(record);
      if (this.recentRecords.length > RECENT_RECORDS) this.recentRecords.splice(0, this.recentRecords.length - RECENT_RECORDS);
      if (this.records > this.mgr.maxRecords) await this.thin();
      changed = true;
    }
    this.fresh = false;
    if (st.size >= this.mgr.maxSize) {
      await this.rotate(st);
      changed = true;
    }
    if (changed) for (const wake of this.listeners) wake();
  }

  /** Too many records (a guest that prints a little, often): keep every other one. */
  private async thin(): Promise<void> {
    const { records } = await loadIndex(this.files);
    const kept = records.filter((_, i) => i % 2 === 1 || i === records.length - 1);
    await this.rewriteIndex(kept);
  }

  private async rewriteIndex(records: IndexRecord[]): Promise<void> {
    await atomicWriteFile(this.files.index, encodeIndex(this.currentLayout(), records));
    this.records = records.length;
  }

  /**
   * Move the log's older part to the backup. Readers wait (layout()) and re-check (stale()), so
   * they never read a file half-rotated. The order of the steps is chosen so that a crash in the
   * middle duplicates or misdates output, never loses it: backup in place, log cut, index updated.
   */
  private async rotate(st: Stats): Promise<void> {
    let release!: () => void;
    this.rotating = new Promise<void>((r) => (release = r));
    this.gen++;
    try {
      const { removed, from, fromCut, endCut } = await cutLog(this.files, st, this.mgr);
      if (removed === 0) return;
      this.headCut = from === 0 ? this.logCut : fromCut;
      this.logCut = endCut;
      this.backupStart = this.shift + from;
      this.shift += removed;
      const { records } = await loadIndex(this.files);
      await this.rewriteIndex(records.filter((r) => r.offset > this.backupStart));
    } finally {
      this.gen++;
      this.rotating = undefined;
      release();
    }
  }
}

/**
 * Cut the front of the log into the backup: returns how many bytes left the log and where, in the
 * log as it was, the backup's copy begins (the backup keeps at most maxSize bytes).
 *
 * QEMU keeps the log open with O_APPEND and never reopens it, so the file must stay the same
 * inode (a rename would leave QEMU writing to the backup). Collapsing the first whole blocks out
 * of the file is atomic with QEMU's appends; truncating to 0 loses what QEMU appends between the
 * last read and the truncate (measured: 28 KB over 26 rotations against a writer doing 1-byte
 * appends flat out; none at the rates a TCG guest prints).
 */
async function cutLog(files: ConsoleFiles, st: Stats, mgr: ConsoleManager): Promise<{ removed: number; from: number; fromCut: boolean; endCut: boolean }> {
  const tmp = `${files.backup}.tmp`;
  const cap = mgr.maxSize;
  if (mgr.rotation === 'auto' && !mgr.noCollapse.has(st.dev)) {
    const block = st.blksize > 0 ? st.blksize : 4096;
    const length = Math.floor((st.size - 1) / block) * block;
    if (length > 0) {
      const from = await lineAfter(files.log, Math.max(0, length - cap), length);
      const fromCut = from > 0 && (await byteAt(files.log, from - 1)) !== 0x0a;
      const endCut = (await byteAt(files.log, length - 1)) !== 0x0a;
      await copyRange(files.log, tmp, from, length);
      await rename(tmp, files.backup);
      try {
        await execFileAsync('fallocate', ['--collapse-range', '--offset', '0', '--length', String(length), files.log]);
        return { removed: length, from, fromCut, endCut };
      } catch {
        mgr.noCollapse.add(st.dev); // e.g. tmpfs, btrfs: copy-then-truncate from now on
      }
    }
  }
  const from = await lineAfter(files.log, Math.max(0, st.size - cap), st.size);
  const fromCut = from > 0 && (await byteAt(files.log, from - 1)) !== 0x0a;
  const log = await open(files.log, 'r+');
  const out = await open(tmp, 'w+');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = from;
    while (pos < st.size) {
      const { bytesRead } = await log.read(buf, 0, Math.min(buf.length, st.size - pos), pos);
      if (bytesRead === 0) break;
      await out.write(buf, 0, bytesRead);
      pos += bytesRead;
    }
    await rename(tmp, files.backup); // the open descriptor follows the file
    // Catch up and truncate back to back, synchronously: QEMU's appends in between would be lost.
    for (;;) {
      const n = readSync(log.fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      writeSync(out.fd, buf, 0, n);
      pos += n;
    }
    ftruncateSync(log.fd, 0);
    const last = Buffer.alloc(1);
    const endCut = pos > 0 && readSync(out.fd, last, 0, 1, pos - from - 1) === 1 && last[0] !== 0x0a;
    return { removed: pos, from, fromCut, endCut };
  } finally {
    await out.close();
    await log.close();
  }
}

async function byteAt(file: string, pos: number): Promise<number | undefined> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(1);
    return (await fh.read(b, 0, 1, pos)).bytesRead === 1 ? b[0] : undefined;
  } finally {
    await fh.close();
  }
}

/** The start of the first whole line at or after `pos` (before `limit`), so the backup starts at a line. */
async function lineAfter(file: string, pos: number, limit: number): Promise<number> {
  if (pos === 0) return 0;
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4096);
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, limit - pos + 1), pos - 1);
    const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
    return nl < 0 ? pos : pos - 1 + nl + 1; // no newline near: cut mid-line rather than keep it all
  } finally {
    await fh.close();
  }
}

async function copyRange(source: string, target: string, from: number, to: number): Promise<void> {
  const src = await open(source, 'r');
  const dst = await open(target, 'w');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let pos = from; pos < to; ) {
      const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, to - pos), pos);
      if (bytesRead === 0) break;
      await dst.write(buf, 0, bytesRead);
      pos += bytesRead;
    }
  } finally {
    await dst.close();
    await src.close();
  }
}

interface Session {
  client: Socket;
  /** Receives the socket's output. */
  stdout: boolean;
  scanner: DetachScanner | undefined;
  /** Output of its own (see AttachOptions.output): the session ends when it does. */
  output: Readable | undefined;
}

/**
 * The daemon's connection to one instance's console socket, shared by its attach sessions. QEMU
 * serves one client at a time and stalls the guest's output while that client does not read, so
 * the relay always reads, and a session too slow to keep up loses output instead.
 */
class Relay {
  private readonly sessions = new Set<Session>();
  private qemu: Socket | undefined;
  private connecting = false;
  closed = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private dirWatch: FSWatcher | undefined;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = 5;
  private ending: NodeJS.Timeout | undefined;

  constructor(
    private readonly socketPath: string,
    private readonly onClosed: () => void,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  add(client: Socket, opts: AttachOptions): void {
    const output = opts.stdout ? opts.output : undefined;
    const session: Session = { client, stdout: opts.stdout && !output, scanner: opts.stdin ? new DetachScanner(opts.detachKeys) : undefined, output };
    this.sessions.add(session);
    if (output) {
      output.on('error', () => client.destroy());
      output.pipe(client);
      client.once('close', () => output.destroy());
    }
    client.setNoDelay?.(true);
    client.on('data', (chunk: Buffer) => {
      if (!session.scanner) return;
      const { forward, detached } = session.scanner.push(chunk);
      if (forward.length) this.input(forward);
      if (detached) {
        session.scanner = undefined;
        this.remove(session);
        client.end();
      }
    });
    // A half-close ends the input only; output goes on until the instance exits.
    client.on('end', () => (session.scanner = undefined));
    client.on('close', () => this.remove(session));
    client.on('error', () => client.destroy());
    this.connect();
  }

  private remove(session: Session): void {
    if (!this.sessions.delete(session)) return;
    if (this.sessions.size === 0) this.close();
  }

  private input(data: Buffer): void {
    if (this.qemu) {
      if (!this.qemu.write(data)) {
        // QEMU takes input as fast as the guest reads it: hold the senders back meanwhile.
        for (const s of this.sessions) s.client.pause();
        this.qemu.once('drain', () => {
          for (const s of this.sessions) s.client.resume();
        });
      }
    } else if (this.pendingBytes + data.length <= PENDING_INPUT_LIMIT) {
      this.pending.push(data);
      this.pendingBytes += data.length;
    }
  }

  private output(data: Buffer): void {
    for (const s of this.sessions) if (s.stdout && s.client.writableLength < CLIENT_BUFFER_LIMIT) s.client.write(data);
  }

  private connect(): void {
    if (this.closed || this.qemu || this.connecting) return;
    this.connecting = true;
    const s = connect(this.socketPath);
    s.setNoDelay?.(true);
    s.once('connect', () => {
      this.connecting = false;
      if (this.closed) return void s.destroy();
      this.qemu = s;
      this.stopWaiting();
      const pending = this.pending;
      this.pending = [];
      this.pendingBytes = 0;
      for (const p of pending) this.input(p);
    });
    s.on('data', (d: Buffer) => this.output(d));
    s.once('error', () => {
      if (this.qemu === s) return;
      // Not there yet (created, or starting): wait for QEMU to create the socket.
      this.connecting = false;
      this.waitForSocket();
    });
    s.once('close', () => {
      if (this.qemu !== s) return;
      this.qemu = undefined;
      this.end(); // QEMU went away: the instance is exiting
    });
  }

  /** Connect as soon as QEMU creates its socket: an inotify watch on the directory, and a slow poll as a safety net. */
  private waitForSocket(): void {
    if (this.closed) return;
    if (!this.dirWatch) {
      try {
        const name = basename(this.socketPath);
        this.dirWatch = watch(dirname(this.socketPath), (_event, file) => {
          if (file === name) this.connect();
        });
        this.dirWatch.on('error', () => undefined);
      } catch {
        // fall back on the poll
      }
    }
    if (!this.retry) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.retryMs = Math.min(this.retryMs * 2, 200);
        this.connect();
      }, this.retryMs);
    }
  }

  private stopWaiting(): void {
    this.dirWatch?.close();
    this.dirWatch = undefined;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  /** The instance exited: QEMU's socket closes by itself; end the sessions if it lingers or was never open. */
  endSoon(): void {
    if (!this.qemu) return this.end();
    this.ending ??= setTimeout(() => this.end(), 1000);
  }

  /** End every session (the instance exited or is gone, or the daemon stops). */
  end(): void {
    // A session with output of its own ends when that does (after what the log still holds).
    for (const s of this.sessions) if (!s.output) s.client.end();
    this.sessions.clear();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopWaiting();
    if (this.ending) clearTimeout(this.ending);
    this.qemu?.destroy();
    this.qemu = undefined;
    this.onClosed();
  }
}
