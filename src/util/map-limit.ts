// Map over many items with at most `limit` calls in flight: a Promise.all over every file of a root
// file system opens them all at once and fails with EMFILE past the process's descriptor limit.

/** Results in the items' order; the first rejection rejects the whole (the rest still finish their current call). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
