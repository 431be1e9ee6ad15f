// One blob of a pull, from the registry into the pull's staging area: streamed over node:http
// straight into a file (batched writes, hashed in the same pass, one fsync at the end), bounded by
// its descriptor's size, and adopted under its digest only once digest and size match, so nothing
// unverified is ever visible. A connection lost mid-blob resumes from the bytes already staged
// (Range: bytes=N-) when the registry answers 206; one that answers 200 sends it all again and
// the file starts over. A resumed blob whose digest does not match is fetched once more whole.
import { createHash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { conflict, CunikError, invalid } from '../errors.js';
import { BatchedWriter } from '../util/batched-writer.js';
import type { Staging, StagedBlob } from './blobs.js';
import type { Descriptor } from './oci.js';
import type { RegistryClient } from './registry.js';

/** Lost connections of one blob that are resumed (or restarted) before the pull gives up. */
export const BLOB_RETRIES = 3;

export interface DownloadStats {
  /** Requests that resumed from a staged offset (206). */
  resumed: number;
  /** Times the file started over (a 200 to a Range, or a resumed blob that did not verify). */
  restarted: number;
}

export async function downloadBlob(
  staging: Staging, client: Pick<RegistryClient, 'openBlob'>, d: Descriptor, what: string,
  onBytes: (n: number) => void = () => {}, stats: DownloadStats = { resumed: 0, restarted: 0 },
): Promise<StagedBlob> {
  const tmp = staging.scratch('blob');
  let fh: FileHandle = await open(tmp, 'wx', 0o644);
  let w = new BatchedWriter(fh);
  let hash = createHash('sha256');
  let n = 0;
  let lost = 0;
  let resumedThis = false;
  let recheck = false;
  const startOver = async (): Promise<void> => {
    await fh.close();
    fh = await open(tmp, 'w', 0o644);
    w = new BatchedWriter(fh);
    hash = createHash('sha256');
    n = 0;
    resumedThis = false;
    stats.restarted++;
  };
  try {
    for (;;) {
      const { body, start } = await client.openBlob(d.digest, n);
      if (start !== n) await startOver();
      else if (n > 0) {
        resumedThis = true;
        stats.resumed++;
      }
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
        // The connection was lost (or the body ended short): resume from what is staged.
        if (++lost > BLOB_RETRIES) {
          if ((err as { short?: boolean }).short === true) throw invalid(`${what} ${(err as Error).message}`);
          throw conflict(`${what}: the download failed after it started (${reason(err)}); nothing was stored`);
        }
        continue;
      }
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
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  return staging.adopt(tmp, d.digest, n);
}

function reason(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string; message?: string }; message?: string };
  return e.code ?? e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
