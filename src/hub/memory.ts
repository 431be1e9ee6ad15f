// Keeping the hub's memory flat while blobs stream through it. Every chunk of a blob is a Buffer
// whose bytes live outside V8's heap; V8 frees them only when it collects their small wrappers,
// and it starts a full collection for such memory only once about 64 MiB more of it has been
// allocated since the last one: a 64 MiB push grew the hub by 40 MiB of dead chunks (and the
// full collections it forced took 10% of its CPU). The hub runs with --expose-gc
// (HUB_NODE_FLAGS); a young-generation collection every SHED_BYTES of blob data frees the chunks
// already written (they die young) for well under a millisecond each. Without the flag, nothing.
const SHED_BYTES = 8 * 1024 * 1024;

type MinorGc = (opts: { type: 'minor' }) => void;
const gc = (globalThis as { gc?: MinorGc }).gc;
let passed = 0;

/** Count bytes of blob data that went through this process; now and then collect the dead chunks. */
export function passedThrough(n: number): void {
  if (gc === undefined) return;
  passed += n;
  if (passed >= SHED_BYTES) {
    passed = 0;
    gc({ type: 'minor' });
  }
}
