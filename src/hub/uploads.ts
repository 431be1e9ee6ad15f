// Blob upload sessions (spec "Pushing blobs"): monolithic, chunked (each PATCH continues exactly
// where the data ends), streamed. The data is hashed as it arrives; a blob becomes visible only
// after its digest and size are verified, by one rename into blobs/ and then the repository link.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { regErr } from './errors.js';
import * as k from './keys.js';
import { checkDigest, checkName, UPLOAD_ID } from './names.js';
import type { Registry } from './registry.js';
import type { StorageDriver } from './storage/driver.js';

interface UploadInfo {
  name: string;
  started: number;
}

/** A chunk's place, from Content-Range ("<start>-<end>", inclusive) and Content-Length. */
export interface ChunkRange {
  start: number;
  end: number;
}

export class Uploads {
  /** Hash state of uploads this process has seen from their first byte. */
  private readonly hashes = new Map<string, { hash: Hash; size: number }>();
  /** One request at a time per upload: chunks must arrive in order. */
  private readonly busy = new Set<string>();

  constructor(private readonly store: StorageDriver, private readonly registry: Registry, private readonly maxBlobBytes: number) {}

  async start(name: string): Promise<string> {
    checkName(name);
    const id = randomUUID();
    const info: UploadInfo = { name, started: Date.now() };
    await this.store.write(k.uploadInfo(id), JSON.stringify(info));
    this.hashes.set(id, { hash: createHash('sha256'), size: 0 });
    return id;
  }

  /** The bytes received so far (the upload's offset). */
  async offset(name: string, id: string): Promise<number> {
    await this.info(name, id);
    return (await this.store.stat(k.uploadData(id)))?.size ?? 0;
  }

  private async info(name: string, id: string): Promise<UploadInfo> {
    checkName(name);
    const unknown = regErr('BLOB_UPLOAD_UNKNOWN', `upload ${id.slice(0, 80)} is not known (finished, cancelled or expired)`);
    if (!UPLOAD_ID.test(id)) throw unknown;
    const raw = await this.store.read(k.uploadInfo(id));
    if (!raw) throw unknown;
    const info = JSON.parse(raw.toString('utf8')) as UploadInfo;
    if (info.name !== name) throw unknown;
    return info;
  }

  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) throw regErr('RANGE_INVALID', 'another request is writing this upload: chunks must be sent one after the other');
    this.busy.add(id);
    try {
      return await fn();
    } finally {
      this.busy.delete(id);
    }
  }

  /** Append a chunk (or a stream, without a range). Returns the new offset. */
  async append(name: string, id: string, body: AsyncIterable<Buffer>, range?: ChunkRange, contentLength?: number): Promise<number> {
    await this.info(name, id);
    return this.exclusive(id, () => this.appendLocked(id, body, range, contentLength));
  }

  private async appendLocked(id: string, body: AsyncIterable<Buffer>, range?: ChunkRange, contentLength?: number): Promise<number> {
    const offset = (await this.store.stat(k.uploadData(id)))?.size ?? 0;
    if (range) {
      const last = offset === 0 ? 0 : offset - 1;
      if (range.start !== offset || range.end < range.start) {
        throw regErr('RANGE_INVALID', `chunk ${range.start}-${range.end} does not continue the upload, which holds 0-${last}`, { detail: { offset } });
      }
      if (contentLength !== undefined && contentLength !== range.end - range.start + 1) {
        throw regErr('RANGE_INVALID', `Content-Range ${range.start}-${range.end} and Content-Length ${contentLength} disagree`);
      }
    }
    let h = this.hashes.get(id);
    if (h && h.size !== offset) h = undefined; // another process wrote part of it: hash again at the end
    if (!h) this.hashes.delete(id);
    const max = this.maxBlobBytes;
    let size = offset;
    const limited = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > max) throw regErr('SIZE_INVALID', `blob is larger than this registry's limit of ${max} bytes`, { status: 413 });
        yield chunk;
      }
    };
    const wrote = await this.store.append(k.uploadData(id), offset, limited(), (c) => h?.hash.update(c)).catch((err) => {
      this.hashes.delete(id); // the hash saw part of a chunk that was cut back
      throw err;
    });
    if (h) h.size = wrote;
    if (range && wrote !== range.end + 1) {
      // Fewer bytes than the range announced (a truncated request): keep what was whole before it.
      throw regErr('RANGE_INVALID', `chunk ended at ${wrote} bytes, not at ${range.end + 1}`);
    }
    return wrote;
  }

  /** Finish: the last bytes (if any), verification, then the blob is visible in the repository. */
  async finish(name: string, id: string, digest: string, body: AsyncIterable<Buffer> | undefined, range?: ChunkRange, contentLength?: number): Promise<void> {
    checkDigest(digest);
    await this.info(name, id);
    await this.exclusive(id, async () => {
      if (body) await this.appendLocked(id, body, range, contentLength);
      const data = k.uploadData(id);
      const st = await this.store.stat(data);
      const h = this.hashes.get(id);
      let actual: string;
      if (h && st && h.size === st.size) actual = `sha256:${h.hash.digest('hex')}`;
      else actual = await this.hashStored(data);
      this.hashes.delete(id);
      if (actual !== digest) {
        await this.drop(id);
        throw regErr('DIGEST_INVALID', `the uploaded content's digest is ${actual}, not ${digest}`, { detail: { digest } });
      }
      if (!st) await this.store.write(data, Buffer.alloc(0));
      await this.store.commit(data, k.blobKey(digest));
      await this.registry.linkBlob(name, digest);
      await this.drop(id);
    });
  }

  private async hashStored(key: string): Promise<string> {
    const hash = createHash('sha256');
    if (await this.store.stat(key)) for await (const c of this.store.reader(key)) hash.update(c as Buffer);
    return `sha256:${hash.digest('hex')}`;
  }

  async cancel(name: string, id: string): Promise<void> {
    await this.info(name, id);
    await this.drop(id);
  }

  private async drop(id: string): Promise<void> {
    this.hashes.delete(id);
    await this.store.deleteTree(`uploads/${id}`);
  }

  /** Remove uploads not written to for `idleMs` (abandoned by their client). Returns how many. */
  async expire(idleMs: number, now = Date.now()): Promise<number> {
    let n = 0;
    for (const id of await this.store.list('uploads')) {
      if (!UPLOAD_ID.test(id) || this.busy.has(id)) continue;
      const info = await this.store.stat(k.uploadInfo(id));
      const data = await this.store.stat(k.uploadData(id));
      // No info yet: an upload being started this very moment (or the empty folder of one a crash cut short).
      if (info === undefined && data === undefined) continue;
      const last = Math.max(info?.modifiedMs ?? 0, data?.modifiedMs ?? 0);
      if (now - last > idleMs) {
        await this.drop(id);
        n++;
      }
    }
    return n;
  }
}
