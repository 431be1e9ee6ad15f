// One watched console (docs/console.md): the index of when its output arrived, kept up to date
// from an inotify watch on console.log, and the cap applied as it grows.
import { appendFileSync, statSync, watch, writeFileSync, type FSWatcher, type Stats } from 'node:fs';
import { atomicWriteFile } from '../util/atomic-write.js';
import {
  readIndex,
  encodeIndex,
  encodeRecord,
  loadIndex,
  type ConsoleFiles,
  type ConsoleIndex,
  type ConsoleLayout,
  type IndexRecord,
} from './console-index.js';
import type { ConsoleSource } from './console-cursor.js';
import { cutLog, type RotationPolicy } from './console-rotate.js';

/** The manager's settings a console follows. */
export interface ConsolePolicy extends RotationPolicy {
  /** Least time between two index records of a console while it grows. */
  readonly recordIntervalMs: number;
  /** Cap on records per index (thinned beyond it). */
  readonly maxRecords: number;
}

const RECENT_RECORDS = 64;

/** Wall-clock time (ms): a monotonic clock with a finer fraction would drift from it over a daemon's life. */
const nowMs = (): number => Date.now();

/**
 * One watched console: its layout, the index's tail, the inotify watch. Every change to the files
 * (index appends, rotations) runs through one queue, so they never interleave.
 */
export class LiveConsole implements ConsoleSource {
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
    private readonly mgr: ConsolePolicy,
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
    const decoded = readIndex(this.files);
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
    if (!decoded) {
      try {
        writeFileSync(this.files.index, encodeIndex(index, index.records));
      } catch {
        // No index: timestamps are unknown until one can be written; the log itself is QEMU's.
      }
    }
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
    // Synchronous small calls, as in readIndex (console-index.ts).
    const st = statSync(this.files.log, { throwIfNoEntry: false });
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
      appendFileSync(this.files.index, encodeRecord(record));
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
