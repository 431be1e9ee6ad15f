// Who waits for an instance's next exit (wait, stop, kill, rm -f): per instance, each waiter is
// settled (and dropped) by that instance's next exit or by its own abort signal, so nothing
// outlives the one who waits (a client that hung up).
export class ExitWaiters {
  private readonly waiters = new Map<string, Set<(code: number) => void>>();

  /** Resolves with the code of the instance's next exit; rejects with an AbortError on `signal`. */
  next(id: string, signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise((resolve, reject) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const waiter = (code: number): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(code);
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
    for (const w of waiters ?? []) w(code);
  }

  /** How many waits are pending (the leak tests' debug endpoint). */
  pending(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  private drop(id: string, waiter: (code: number) => void): void {
    const set = this.waiters.get(id);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.waiters.delete(id);
  }
}

function abortError(): Error {
  return new DOMException('the wait was abandoned', 'AbortError');
}
