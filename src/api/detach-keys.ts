// Detach keys: the key sequence that leaves an attached console without stopping the instance.
// Docker's format and default ("ctrl-p,ctrl-q"; docker/pkg/term ToBytes): a comma-separated list
// of single ASCII characters or `ctrl-<c>` with <c> one of a-z @ [ \ ] ^ _. Shared by the daemon
// (the `detachKeys` query of the attach route) and the CLI (`--detach-keys`), so it imports nothing.

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

const CTRL_PUNCT: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 };

/** "ctrl-p,ctrl-q" → <10 11>. Throws Error with a message naming the bad key. */
export function parseDetachKeys(spec: string): Buffer {
  const bytes: number[] = [];
  for (const raw of spec.split(',')) {
    const key = raw.trim().toLowerCase();
    if (key.length === 1 && key.charCodeAt(0) < 0x80) {
      bytes.push(key.charCodeAt(0));
      continue;
    }
    const ctrl = /^ctrl-(.)$/.exec(key);
    const c = ctrl?.[1];
    if (c !== undefined && c >= 'a' && c <= 'z') bytes.push(c.charCodeAt(0) - 0x60);
    else if (c !== undefined && c in CTRL_PUNCT) bytes.push(CTRL_PUNCT[c]!);
    else throw new Error(`invalid detach keys: ${JSON.stringify(spec)} (use e.g. ctrl-p,ctrl-q: single characters or ctrl-<a-z@[\\]^_>)`);
  }
  if (bytes.length === 0) throw new Error('invalid detach keys: empty');
  return Buffer.from(bytes);
}

/**
 * Finds the detach sequence in an input stream (docker's EscapeProxy): bytes that might start the
 * sequence are held back until it is complete (detach: they are dropped, so the guest never sees
 * them) or broken (they are passed on).
 */
export class DetachScanner {
  private matched = 0;

  constructor(private readonly keys: Buffer) {}

  /** `forward`: what to send on; `detached`: the sequence is complete (the rest of the chunk is dropped). */
  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    // The common case, cheap for large pastes: no sequence under way and none starting here.
    if (this.matched === 0 && chunk.indexOf(this.keys[0]!) < 0) return { forward: chunk, detached: false };
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) {
          this.matched = 0;
          return { forward: Buffer.from(out), detached: true };
        }
        continue;
      }
      // A broken partial match: pass the held bytes on, then look at this byte afresh.
      if (this.matched > 0) {
        for (let i = 0; i < this.matched; i++) out.push(this.keys[i]!);
        this.matched = 0;
        if (byte === this.keys[0]) {
          this.matched = 1;
          if (this.keys.length === 1) return { forward: Buffer.from(out), detached: true };
          continue;
        }
      }
      out.push(byte);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}
