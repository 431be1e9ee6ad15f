// One blob of a pull, from the registry into the pull's staging area: streamed over node:http
// straight into a file (batched writes, hashed in the same pass, one fsync at the end), bounded by
// its descriptor's size, and adopted under its digest only once digest and size match, so nothing
// unverified is ever visible. A connection lost mid-blob resumes from the bytes already staged
// (Range: bytes=N-) when the registry answers 206; one that answers 200 sends it all again and
// the file starts over. A resumed blob whose digest does not match is fetched once more whole.
// Across pulls too: a download given up on (or cancelled) keeps its bytes in the store's partial
// folder (partial.ts), and the next pull of the same digest hashes them again and asks for the rest.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { conflict, CunikError, invalid } from '../errors.js';
import { BatchedWriter } from '../util/batched-writer.js';
import type { Staging, StagedBlob } from './blobs.js';
import type { Descriptor } from './oci.js';
import type { PartialBlobs } from './partial.js';
import type { RegistryClient } from './registry.js';

/** Lost connections of one blob that are resumed (or restarted) before the pull gives up. */
export const BLOB_RETRIES = 3;

export interface DownloadStats {
  /** Requests that resumed from a staged offset (206). */
  resumed: number;
  /** Times the file started over (a 200 to a Range, or a resumed blob that did not verify). */
  restarted: number;
}

export interface DownloadOptions {
  onBytes?: (n: number) => void;
  stats?: DownloadStats;
  /**
   * Where cut downloads are kept for the next pull (partial.ts): the bytes kept from an earlier
   * one are hashed again and the rest asked for with Range; a download given up on (connections
   * lost past BLOB_RETRIES, or `signal` aborted) is kept there rather than removed.
   */
  partial?: PartialBlobs;
  /** Aborts the download (its client went away); the bytes so far are kept in `partial`. */
  signal?: AbortSignal;
}

export async function downloadBlob(staging: Staging, client: Pick<RegistryClient, 'openBlob'>, d: Descriptor, what: string, opts: DownloadOptions = {}): Promise<StagedBlob> {
  const { onBytes = () => {}, stats = { resumed: 0, restarted: 0 }, partial, signal } = opts;
  const held = partial ? await partial.take(d.digest, d.size) : { path: staging.scratch('blob'), bytes: 0 };
  const tmp = held.path;
  let fh: FileHandle | undefined;
  let w!: BatchedWriter;
  let hash = createHash('sha256');
  let n = 0;
  let lost = 0;
  let resumedThis = false;
  let recheck = false;
  /** Keep the bytes for the next pull when giving up (a lost connection or a cancelled pull, not bad content). */
  let keep = false;
  const startOver = async (): Promise<void> => {
    await fh?.close();
    fh = await open(tmp, 'w', 0o644);
    w = new BatchedWriter(fh);
    hash = createHash('sha256');
    n = 0;
    resumedThis = false;
    stats.restarted++;
  };
  try {
    if (held.bytes > 0) {
      // Kept from an earlier pull: hash them again (the hash state is not kept), then append.
      for await (const c of createReadStream(tmp, { highWaterMark: 1 << 20 })) hash.update(c as Buffer);
      n = held.bytes;
      fh = await open(tmp, 'a', 0o644);
    } else fh = await open(tmp, partial ? 'w' : 'wx', 0o644);
    w = new BatchedWriter(fh);
    for (;;) {
      if (signal?.aborted) {
        keep = true;
        throw cancelled(what, n);
      }
      if (n < d.size) {
        const { body, start } = await client.openBlob(d.digest, n);
        if (start !== n) await startOver();
        else if (n > 0) {
          resumedThis = true;
          stats.resumed++;
        }
        const onAbort = (): void => void body.destroy(new Error('cancelled'));
        signal?.addEventListener('abort', onAbort);
        if (signal?.aborted) onAbort(); // aborted while the request was being answered
        let writing = false;
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            n += chunk.length;
            if (n > d.size) throw invalid(`${what} is larger than its descriptor's ${d.size} bytes`);
            hash.update(chunk);
            writing = true;
            await w.add(chunk);
            writing = false;
            onBytes(n);
          }
          if (n !== d.size) throw Object.assign(new Error(`ended after ${n} of ${d.size} bytes`), { short: true });
        } catch (err) {
          body.destroy();
          if (err instanceof CunikError || writing) throw err;
          if (signal?.aborted) {
            keep = true;
            throw cancelled(what, n);
          }
          // The connection was lost (or the body ended short): resume from what is staged.
          if (++lost > BLOB_RETRIES) {
            keep = true;
            if ((err as { short?: boolean }).short === true) throw invalid(`${what} ${(err as Error).message}`);
            throw conflict(`${what}: the download failed after it started (${reason(err)}); ${partial ? 'no image was stored, the bytes so far are kept: the next pull resumes them' : 'nothing was stored'}`);
          }
          continue;
        } finally {
          signal?.removeEventListener('abort', onAbort);
        }
      } else resumedThis = true; // every byte was kept: only the digest is left to check
      await w.end();
      const digest = `sha256:${hash.digest('hex')}`;
      if (digest === d.digest) break;
      if (resumedThis && !recheck) {
        recheck = true;
        await startOver();
        continue;
      }
      throw invalid(`${what}: digest mismatch (content is ${digest})`);
    }
    await fh.close();
  } catch (err) {
    let kept = false;
    if (keep && partial && fh !== undefined) {
      // What was received is written out (not synced: a resume hashes it again and checks the digest).
      kept = await w.end().then(() => true, () => false);
    }
    await fh?.close().catch(() => undefined);
    if (kept) await partial!.keep(tmp, d.digest).catch(() => partial!.release(tmp, true));
    else if (partial) await partial.release(tmp, true);
    else await rm(tmp, { force: true });
    throw err;
  }
  const staged = staging.adopt(tmp, d.digest, n);
  await partial?.release(tmp, false);
  return staged;
}

function cancelled(what: string, n: number): CunikError {
  return conflict(`${what}: the pull was cancelled after ${n} bytes (they are kept: the next pull resumes them)`);
}

function reason(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  return e.code ?? e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
