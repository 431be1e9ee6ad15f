// Waiting for a file (QEMU's QMP socket) to appear without polling. QEMU creates its socket some
// tens of milliseconds after it starts (more under TCG on a busy host); polling for it every few
// milliseconds costs the daemon a timer, a stat and a promise each time and adds half a period of
// latency to every start. One inotify watch per directory, shared by the waiters of the moment
// (closed when the last one is done), reports the creation at once.
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

interface Watched {
  watcher: FSWatcher | undefined;
  /** Waiters by file name. */
  waiters: Map<string, Set<() => void>>;
}

const dirs = new Map<string, Watched>();

function watchedDir(dir: string): Watched {
  let w = dirs.get(dir);
  if (w) return w;
  w = { watcher: undefined, waiters: new Map() };
  dirs.set(dir, w);
  const entry = w;
  try {
    entry.watcher = watch(dir, { persistent: false }, (_event, name) => {
      const set = name !== null ? entry.waiters.get(String(name)) : undefined;
      if (set) for (const wake of [...set]) wake();
    });
    // The directory went away, or the watch failed: waiters fall back to their timeout.
    entry.watcher.on('error', () => unwatch(dir, entry));
  } catch {
    dirs.delete(dir); // no such directory (yet): nothing to watch; callers wait out their timeout
  }
  return entry;
}

function unwatch(dir: string, w: Watched): void {
  w.watcher?.close();
  if (dirs.get(dir) === w) dirs.delete(dir);
}

/**
 * Resolves when `path` exists or `timeoutMs` has passed (whichever first; the caller checks
 * again), rejects when `signal` aborts. Any event for the name wakes the waiter.
 */
export function appeared(path: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const dir = watchedDir(dirname(path));
    const name = basename(path);
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const set = dir.waiters.get(name);
      set?.delete(wake);
      if (set?.size === 0) dir.waiters.delete(name);
      if (dir.waiters.size === 0) unwatch(dirname(path), dir);
    };
    const wake = (): void => {
      done();
      resolve();
    };
    const onAbort = (): void => {
      done();
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = setTimeout(wake, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    let set = dir.waiters.get(name);
    if (!set) dir.waiters.set(name, (set = new Set()));
    set.add(wake);
    // Created between the caller's check and the watch: do not wait for an event that came already.
    if (existsSync(path)) wake();
  });
}
