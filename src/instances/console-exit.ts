// Guests that print how they exit (FamilyAdapter.exitFromConsole) and may then halt without ending
// QEMU (Rumprun prints `=== _exit(0) called ===` and halts; a `run --rm` would never return): while
// such a VM runs, its console is read as it grows (one inotify watch, only for these families), and
// once a line reports the exit the VM gets a moment to end by itself, then is stopped. The code
// recorded is the line's (exit-status.ts reads the run's console when the VM ends).
import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import type { FamilyAdapter } from '../families/types.js';
import { consoleFiles, readIndex } from './console-index.js';

/** How long a guest that reported its exit may take to end QEMU by itself (Solo5 does at once). */
export const HALT_GRACE_MS = 250;
const MAX_READ = 64 * 1024;

/** Logical offset (console-index.ts) of byte `at` of console.log as it is now. */
export function logicalOffset(consoleLog: string, at: number): number {
  return (readIndex(consoleFiles(consoleLog))?.shift ?? 0) + at;
}

/**
 * Where, in console.log as it is now, to look for the exit line of a run a previous daemon started
 * (`consoleStart`: its logical start, from the record): from that start, or from the log's first
 * byte if rotation moved the start out of it, and at most the last 64 KiB (guests print their exit
 * last). Undefined for a record that does not say where its run began: the caller then watches
 * from the end, as nothing before can be told apart from an earlier run's output.
 */
export function adoptedRunStart(consoleLog: string, consoleStart: number | null | undefined): number | undefined {
  if (consoleStart === undefined || consoleStart === null) return undefined;
  const size = statSync(consoleLog, { throwIfNoEntry: false })?.size ?? 0;
  const at = Math.min(size, Math.max(0, consoleStart - (readIndex(consoleFiles(consoleLog))?.shift ?? 0)));
  return Math.max(at, size - MAX_READ);
}

export interface ConsoleExitWatch {
  close(): void;
}

/**
 * Watch `consoleLog` from byte `from` (where this run began); call `end` once, HALT_GRACE_MS after
 * the first line `adapter.exitFromConsole` reports an exit from. Undefined for families without it.
 */
export function watchConsoleExit(adapter: FamilyAdapter, consoleLog: string, from: number, end: () => void, graceMs = HALT_GRACE_MS): ConsoleExitWatch | undefined {
  const parse = adapter.exitFromConsole?.bind(adapter);
  if (!parse) return undefined;
  let fd: number;
  try {
    fd = openSync(consoleLog, 'a+'); // QEMU may not have created it yet: appending nothing is harmless
  } catch {
    return undefined;
  }
  let offset = from;
  let partial = '';
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let watcher: FSWatcher | undefined;
  const close = (): void => {
    if (closed) return;
    closed = true;
    watcher?.close();
    if (timer) clearTimeout(timer);
    closeSync(fd);
  };
  const scan = (): void => {
    if (closed || timer) return;
    const size = fstatSync(fd).size;
    if (size < offset) {
      // Rotated (its front moved to the backup): read on from what is left of the end.
      offset = Math.max(0, size - MAX_READ);
      partial = '';
    }
    while (offset < size && !timer) {
      const buf = Buffer.alloc(Math.min(MAX_READ, size - offset));
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) break;
      offset += n;
      const lines = (partial + buf.subarray(0, n).toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > MAX_READ) partial = partial.slice(-MAX_READ);
      // A halted guest may leave its last line without a newline: try the partial one too.
      if ([...lines, partial].some((l) => parse(l.replace(/\r$/, '')) !== undefined)) {
        timer = setTimeout(() => {
          close();
          end();
        }, graceMs);
        timer.unref();
      }
    }
  };
  try {
    watcher = watch(consoleLog, { persistent: false }, () => scan());
    watcher.on('error', () => close());
  } catch {
    closeSync(fd);
    return undefined;
  }
  scan();
  return { close };
}
