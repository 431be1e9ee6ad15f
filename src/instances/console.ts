// The daemon's side of every instance's serial console (docs/console.md). QEMU writes
// console.log itself (logfile=..., logappend=on, opened O_APPEND) and serves the console socket;
// the ConsoleManager
// - watches the console.log of each created or running instance (console-live.ts: one inotify
//   watch, no fd) and appends (logical offset, time) records to console.idx whenever the log
//   grows, so `logs --since` and `--timestamps` know when each line arrived;
// - caps console.log: once it reaches the maximum size its older part moves to console.log.1 (one
//   backup) in place, so QEMU never notices (console-rotate.ts): FALLOC_FL_COLLAPSE_RANGE where the
//   file system has it (ext4, XFS: nothing is lost), else copy-then-truncate (a few microseconds'
//   window for loss);
// - relays `attach` sessions (console-relay.ts): the daemon is QEMU's one client on the console
//   socket, shared by every session of the instance, connected only while a session exists.
import type { Socket } from 'node:net';
import { LIMITS } from '../api/limits.js';
import { consoleFiles, type ConsoleFiles } from './console-index.js';
import { staticConsole, type ConsoleSource } from './console-cursor.js';
import { LiveConsole, type ConsolePolicy } from './console-live.js';
import { Relay, type AttachOptions } from './console-relay.js';
import { parseSize as parseByteSize } from '../util/size.js';

export type { AttachOptions } from './console-relay.js';

export const DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024;
/** Below this a console could not hold one screen of output: refused. */
export const MIN_LOG_MAX_SIZE = LIMITS.logMaxSizeBytes.min;

/**
 * A size as `--log-max-size` takes it (util/size.ts): bytes, or a number with k, m, g, t (binary
 * multiples, as Docker's max-size: 10m = 10 MiB): "10m", "10MiB", "512k", "4096".
 */
export function parseSize(value: string): number {
  const size = parseByteSize(value);
  if (size === undefined) throw new Error(`invalid size: ${JSON.stringify(value)} (use e.g. 10m, 512k, 1g, or a number of bytes)`);
  const bytes = Math.floor(size);
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

/** What the manager needs to know of an instance. */
export interface ConsoleInstance {
  id: string;
  state: string;
}

const LIVE_STATES = new Set(['created', 'running', 'paused', 'restarting']);

export class ConsoleManager implements ConsolePolicy {
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
      // Not at 'create': nothing writes a console before its VM starts, and watching costs about
      // a third of a create's CPU (an index file, an inotify watch). A reader of a created
      // instance's console asks for the watch itself (source(id, true)).
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

  /**
   * The console to read: the watched one (kept in step with rotations), else the files as they are.
   * `live`: a reader that follows what comes (logs -f, attach before the start) gets it watched now.
   */
  source(id: string, live = false): ConsoleSource {
    if (live) this.watch(id);
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
    for (const r of this.relays.values()) r.end(true);
    await Promise.all([...this.live.keys()].map((id) => (this.unwatch(id), this.closing.get(id))));
  }
}
