// Who waits for an instance's next exit (wait, stop, kill, rm -f): per instance, each waiter is
// settled (and dropped) by that instance's next exit, by the instance's removal before it exited
// (rejected), or by its own abort signal, so nothing outlives the one who waits (a client that
// hung up) or the instance waited for. Also the wait for an exit and the removal that follows it
// (run --rm).
interface Waiter {
  resolve: (code: number) => void;
  reject: (err: Error) => void;
}

export class ExitWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();

  /** Resolves with the code of the instance's next exit; rejects with an AbortError on `signal`. */
  next(id: string, signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise((resolve, reject) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const waiter: Waiter = {
        resolve: (code) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(code);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = (): void => {
        this.drop(id, waiter);
        reject(abortError());
      };
      set.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The instance exited: every waiter hears its code. */
  settle(id: string, code: number): void {
    const waiters = this.waiters.get(id);
    this.waiters.delete(id);
    for (const w of waiters ?? []) w.resolve(code);
  }

  /** The instance is gone without exiting again (removed while created or stopped): every waiter hears `err`. */
  cancel(id: string, err: Error): void {
    const waiters = this.waiters.get(id);
    this.waiters.delete(id);
    for (const w of waiters ?? []) w.reject(err);
  }

  /** How many waits are pending (the leak tests' debug endpoint). */
  pending(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  private drop(id: string, waiter: Waiter): void {
    const set = this.waiters.get(id);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.waiters.delete(id);
  }
}

function abortError(): Error {
  return new DOMException('the wait was abandoned', 'AbortError');
}

/** The events an instance's removal is announced by (the service's `destroy`). */
export interface DestroyEvents {
  on(event: 'event', listener: (e: { id: string; action: string }) => void): unknown;
  off(event: 'event', listener: (e: { id: string; action: string }) => void): unknown;
}

/**
 * The code of the instance's next exit, once the instance is also removed (run --rm, as Docker's CLI
 * waits), so a name can be used again as soon as the wait answers. The destroy listener is
 * registered with the exit waiter, before either can happen; `isKnown` tells whether it is not
 * removed yet when the exit comes.
 */
export function exitThenRemoval(waiters: ExitWaiters, events: DestroyEvents, isKnown: (id: string) => boolean, id: string, signal?: AbortSignal): Promise<number> {
  let listener: ((e: { id: string; action: string }) => void) | undefined;
  const removed = new Promise<void>((resolve) => {
    listener = (e) => {
      if (e.id === id && e.action === 'destroy') resolve();
    };
    events.on('event', listener);
  });
  const done = (): void => {
    if (listener) events.off('event', listener);
  };
  signal?.addEventListener('abort', done, { once: true });
  return waiters.next(id, signal).then(
    async (code) => {
      if (isKnown(id)) await removed;
      done();
      return code;
    },
    (err: unknown) => {
      done();
      throw err;
    },
  );
}
