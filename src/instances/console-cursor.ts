// Reading a console by logical offset (console-index.ts), across the backup and the log, safe
// against a rotation happening meanwhile.
import { watch } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { loadIndex, type ConsoleFiles, type ConsoleIndex, type ConsoleLayout, type IndexRecord } from './console-index.js';

/** What a console's reader needs from whoever maintains it (console.ts for watched instances). */
export interface ConsoleSource {
  readonly files: ConsoleFiles;
  /** The current layout and its generation; while a rotation is under way, waits for its end. */
  layout(): Promise<{ layout: ConsoleLayout; gen: number }>;
  /** True once the layout has changed (a rotation began) since `gen` was handed out. */
  stale(gen: number): boolean;
  /** The index, brought up to date with the file first when the console is watched. */
  index(): Promise<ConsoleIndex>;
  /** Records kept in memory past `offset` (a follower's new output); may be empty. */
  recent(offset: number): IndexRecord[];
  /** The time to give bytes past the last record: now for a watched console, else the log's mtime. */
  untimed(): Promise<number>;
  /** Call `wake` whenever the log may have grown or rotated; returns the unsubscribe function. */
  subscribe(wake: () => void): () => void;
}

/** A console nobody maintains (its instance is not running): read as the files are. */
export function staticConsole(files: ConsoleFiles): ConsoleSource {
  let index: Promise<ConsoleIndex> | undefined;
  const load = (): Promise<ConsoleIndex> => (index ??= loadIndex(files));
  return {
    files,
    layout: async () => {
      const { shift, backupStart, headCut, logCut } = await load();
      return { layout: { shift, backupStart, headCut, logCut }, gen: 0 };
    },
    stale: () => false,
    index: load,
    recent: () => [],
    untimed: async () => (await stat(files.log).catch(() => undefined))?.mtimeMs ?? Date.now(),
    subscribe: (wake) => {
      try {
        const w = watch(files.log, () => wake());
        w.on('error', () => w.close());
        return () => w.close();
      } catch {
        return () => undefined;
      }
    },
  };
}

/** Positioned reads by logical offset, safe against a rotation happening meanwhile. */
export class ConsoleCursor {
  private log: FileHandle | undefined;
  private logOpened = false;
  private backup: { fh: FileHandle | undefined; gen: number } | undefined;

  constructor(private readonly src: ConsoleSource) {}

  private async logHandle(): Promise<FileHandle | undefined> {
    if (!this.logOpened) {
      this.logOpened = true;
      this.log = await open(this.src.files.log, 'r').catch(() => undefined);
    }
    return this.log;
  }

  private async backupHandle(gen: number): Promise<FileHandle | undefined> {
    if (this.backup?.gen !== gen) {
      await this.backup?.fh?.close().catch(() => undefined);
      this.backup = { fh: await open(this.src.files.backup, 'r').catch(() => undefined), gen };
    }
    return this.backup.fh;
  }

  /** The logical offset just past the last byte written so far. */
  async end(): Promise<number> {
    for (;;) {
      const { layout, gen } = await this.src.layout();
      const fh = await this.logHandle();
      const size = fh ? (await fh.stat()).size : 0;
      if (!this.src.stale(gen)) return layout.shift + size;
    }
  }

  /** The first logical offset still kept, past a line fragment whose start was dropped. */
  async begin(): Promise<number> {
    const { layout } = await this.src.layout();
    if (!layout.headCut) return layout.backupStart;
    const buf = Buffer.allocUnsafe(4096);
    const { pos, n } = await this.read(layout.backupStart, buf);
    const nl = buf.subarray(0, n).indexOf(NL);
    return nl < 0 ? pos : pos + nl + 1;
  }

  /**
   * Read up to `len` bytes at `pos` (never across the backup/log boundary). `pos` moves forward
   * when its bytes were rotated away meanwhile: the returned `pos` is where the bytes come from.
   */
  async read(pos: number, buf: Buffer, len = buf.length): Promise<{ pos: number; n: number }> {
    for (;;) {
      const { layout, gen } = await this.src.layout();
      let at = Math.max(pos, layout.backupStart);
      let n = 0;
      if (at < layout.shift) {
        const fh = await this.backupHandle(gen);
        if (fh) n = (await fh.read(buf, 0, Math.min(len, layout.shift - at), at - layout.backupStart)).bytesRead;
        if (n === 0 && !this.src.stale(gen)) at = layout.shift; // a missing or short backup: go on with the log
      }
      if (at >= layout.shift) {
        const fh = await this.logHandle();
        n = fh ? (await fh.read(buf, 0, len, at - layout.shift)).bytesRead : 0;
      }
      if (!this.src.stale(gen)) return { pos: at, n };
    }
  }

  async close(): Promise<void> {
    await this.log?.close().catch(() => undefined);
    await this.backup?.fh?.close().catch(() => undefined);
    this.log = undefined;
    this.backup = undefined;
  }
}

export const NL = 0x0a;
export const CHUNK = 64 * 1024;

/**
 * The offset where the last `lines` lines of [begin, end) start. A final line without its newline
 * counts as a line (docker logs --tail does the same).
 */
export async function tailStart(cur: ConsoleCursor, begin: number, end: number, lines: number): Promise<number> {
  if (lines <= 0) return end;
  const buf = Buffer.allocUnsafe(CHUNK);
  let count = 0;
  let pos = end;
  while (pos > begin) {
    const from = Math.max(begin, pos - CHUNK);
    const { pos: got, n } = await readFully(cur, from, pos - from, buf);
    if (got > from) return got; // the older part was rotated away meanwhile
    for (let i = n - 1; i >= 0; i--) {
      if (buf[i] !== NL || from + i === end - 1) continue;
      if (++count === lines) return from + i + 1;
    }
    pos = from;
  }
  return begin;
}

/** The start of the line holding the byte at `offset`. */
export async function lineStart(cur: ConsoleCursor, begin: number, offset: number): Promise<number> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = offset;
  while (pos > begin) {
    const from = Math.max(begin, pos - CHUNK);
    const { pos: got, n } = await readFully(cur, from, pos - from, buf);
    if (got > from) return got;
    const i = buf.subarray(0, n).lastIndexOf(NL);
    if (i >= 0) return from + i + 1;
    pos = from;
  }
  return begin;
}

/** Read [from, from + len) into buf, across the backup/log boundary. `pos` > from: the start was rotated away. */
async function readFully(cur: ConsoleCursor, from: number, len: number, buf: Buffer): Promise<{ pos: number; n: number }> {
  let filled = 0;
  while (filled < len) {
    const { pos, n } = await cur.read(from + filled, buf.subarray(filled), len - filled);
    if (pos !== from + filled) return { pos, n: 0 };
    if (n === 0) break;
    filled += n;
  }
  return { pos: from, n: filled };
}
