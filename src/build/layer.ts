// Image layers for built images: deterministic tars (mtime 0, root-owned) of files under cunik/,
// optionally gzip-compressed, written to a file with both digests computed on the way:
// diffId (the uncompressed tar, for the config's rootfs) and digest (the blob, for the manifest).

import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { HashingStream } from '../images/fsutil.js';

export const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const LAYER_TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface LayerBlob {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

const EPOCH = new Date(0);

/** Write a layer holding `files` (tar name → host path) to `out`. gzip: a level, or false. */
export async function writeLayer(files: [string, string][], out: string, gzip: number | false): Promise<LayerBlob> {
  const pack = tarPack();
  const producing = (async () => {
    const dirs = new Set<string>();
    for (const [name, path] of files) {
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const d = parts.slice(0, i).join('/') + '/';
        if (dirs.has(d)) continue;
        dirs.add(d);
        await new Promise<void>((res, rej) => pack.entry({ name: d, type: 'directory', mode: 0o755, mtime: EPOCH, uid: 0, gid: 0 }, (e) => (e ? rej(e) : res())));
      }
      const { size } = await stat(path);
      await new Promise<void>((res, rej) => {
        const sink = pack.entry({ name, size, mode: 0o644, mtime: EPOCH, uid: 0, gid: 0, type: 'file' }, (e) => (e ? rej(e) : res()));
        const src = createReadStream(path, { highWaterMark: 1 << 20 });
        src.on('error', (e) => { sink.destroy(e); rej(e); });
        src.pipe(sink);
      });
    }
    pack.finalize();
  })();
  producing.catch((err: Error) => pack.destroy(err));
  const tarHash = new HashingStream();
  const blobHash = new HashingStream();
  const source = pack as unknown as NodeJS.ReadableStream;
  const sink = createWriteStream(out, { mode: 0o644 });
  await Promise.all([
    gzip === false ? pipeline(source, tarHash, sink) : pipeline(source, tarHash, createGzip({ level: gzip }), blobHash, sink),
    producing,
  ]);
  const diffId = `sha256:${tarHash.hex()}`;
  if (gzip === false) return { diffId, digest: diffId, size: tarHash.bytes, mediaType: LAYER_TAR };
  return { diffId, digest: `sha256:${blobHash.hex()}`, size: blobHash.bytes, mediaType: LAYER_TAR_GZIP };
}
