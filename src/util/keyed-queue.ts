// One operation at a time per key (an instance id): each operation starts once the previous one for
// the same key has settled (fulfilled or rejected), so concurrent requests never interleave
// half-done transitions. Operations on different keys run concurrently.
export class PerInstanceQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(id: string, op: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(id) ?? Promise.resolve();
    const next = previous.then(op, op);
    const tail = next.catch(() => undefined);
    this.tails.set(id, tail);
    // Forget an idle key's queue so the map does not grow with every instance ever seen.
    void tail.then(() => {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    });
    return next;
  }
}
