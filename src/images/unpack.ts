// Extract an image's boot files (cunik/kernel, cunik/initrd, cunik/disk.img, or where another
// tool's layout puts them: images/foreign.ts) from its layers into a directory, verifying each
// layer's uncompressed digest against the config's diff_ids.

import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { invalid } from '../errors.js';
import { HashingStream, bytesOf } from './fsutil.js';
import { LAYER_FILES } from './oci.js';
import { TarGuard } from '../util/tar-guard.js';
import { decompressor } from '../util/decompress.js';

export interface LayerSource {
  path: string;
  compression: 'none' | 'gzip' | 'zstd';
  /** Expected sha256 of the uncompressed tar ("sha256:<hex>"). */
  diffId: string;
  digest: string;
}

/** File name inside the unpacked dir for each layer path: a Cunik image's. */
export const CUNIK_TARGETS: Readonly<Record<string, string>> = {
  [LAYER_FILES.kernel]: 'kernel',
  [LAYER_FILES.initrd]: 'initrd',
  [LAYER_FILES.disk]: 'disk.img',
};

async function writeEntry(dest: string, entry: AsyncIterable<Buffer | Uint8Array>): Promise<void> {
  await rm(dest, { force: true });
  const fh = await open(dest, 'wx', 0o644);
  try {
    for await (const chunk of entry) await fh.write(chunk);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface ExtractOptions {
  /** Layer path (clean, root-relative) → file name in destDir. Default: a Cunik image's. */
  targets?: Readonly<Record<string, string>>;
  /** A small file to read whole (the last layer's copy wins), e.g. urunc.json; at most `captureMax` bytes. */
  capture?: string;
  captureMax?: number;
}

/**
 * Apply the layers in order; later layers override earlier ones, whiteouts remove. A boot file that
 * is a symlink or a hard link, or that lies under a symlink an earlier layer made, is refused: the
 * file must be in the layers, and nothing outside them is ever read.
 */
export async function extractBootFiles(layers: LayerSource[], destDir: string, opts: ExtractOptions = {}): Promise<Set<string>> {
  return (await extractLayers(layers, destDir, opts)).present;
}

export async function extractLayers(layers: LayerSource[], destDir: string, opts: ExtractOptions = {}): Promise<{ present: Set<string>; captured?: Buffer }> {
  const TARGETS = opts.targets ?? CUNIK_TARGETS;
  const present = new Set<string>();
  let captured: Buffer | undefined;
  // Symlinks the layers made so far, across layers (a later entry of the same name replaces one).
  const links = new Set<string>();
  const underLink = (name: string): string | undefined => {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) if (links.has(parts.slice(0, i).join('/'))) return parts.slice(0, i).join('/');
    return undefined;
  };
  for (const layer of layers) {
    const hasher = new HashingStream();
    const extract = tarExtract();
    const src = createReadStream(layer.path);
    const feeding = layer.compression !== 'none'
      ? pipeline(src, decompressor(layer.compression), hasher)
      : pipeline(src, hasher);
    hasher.pipe(extract);
    feeding.catch((err: Error) => extract.destroy(err));
    // Names as layers give them (root-relative: KraftKit writes /unikraft/bin/kernel); nothing is
    // written at an entry's path, only at the fixed boot file names, but a boot file under a
    // symlink or named through ".." is refused all the same (src/util/tar-guard.ts).
    const guard = new TarGuard({ what: `layer ${layer.digest}`, rootRelative: true, devices: 'skip' });
    try {
      for await (const entry of extract) {
        try {
          const { name } = guard.check(entry.header);
          const base = name.split('/').pop() ?? '';
          const dir = name.slice(0, name.length - base.length);
          const target = TARGETS[name];
          const type = entry.header.type;
          const isFile = type === 'file' || type === 'contiguous-file';
          if (type === 'symlink') links.add(name);
          else links.delete(name);
          if (target !== undefined || name === opts.capture) {
            const link = underLink(name);
            if (link !== undefined) throw invalid(`layer ${layer.digest}: /${name} is under the symlink /${link}: a boot file must be a file in the image's layers`);
            if (type === 'symlink' || type === 'link') {
              throw invalid(`layer ${layer.digest}: /${name} is a ${type === 'symlink' ? 'symlink' : 'hard link'} (to ${JSON.stringify(entry.header.linkname ?? '')}): a boot file must be a regular file`);
            }
          }
          if (target !== undefined && isFile) {
            await writeEntry(join(destDir, target), bytesOf(entry));
            present.add(target);
            continue;
          }
          if (name === opts.capture && isFile) {
            const max = opts.captureMax ?? 64 * 1024;
            if ((entry.header.size ?? 0) > max) throw invalid(`layer ${layer.digest}: /${name} is larger than ${max} bytes`);
            const chunks: Buffer[] = [];
            for await (const c of bytesOf(entry)) chunks.push(Buffer.from(c));
            captured = Buffer.concat(chunks);
            continue;
          }
          if (base.startsWith('.wh.')) {
            const hidden = dir + base.slice(4);
            const removed = TARGETS[hidden];
            if (removed !== undefined) {
              await rm(join(destDir, removed), { force: true });
              present.delete(removed);
            }
            if (hidden === opts.capture) captured = undefined;
            links.delete(hidden);
          }
          entry.resume();
        } catch (err) {
          entry.destroy(); // an unread entry holds the extract: without this, the loop's cleanup waits forever
          throw err;
        }
      }
      await feeding;
    } catch (err) {
      // The layer's read stream stops with the loop: closed here, or its descriptor (and a
      // staged blob's space, once the staging is removed) stayed held until the daemon restarted.
      src.destroy();
      hasher.destroy();
      if ((err as { code?: string }).code === 'INVALID_ARGUMENT') throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw err;
      throw invalid(`layer ${layer.digest}: cannot read the tar: ${(err as Error).message}`);
    }
    const diff = `sha256:${hasher.hex()}`;
    if (diff !== layer.diffId) {
      throw invalid(`layer ${layer.digest}: uncompressed digest ${diff} does not match the config's diff_id ${layer.diffId}`);
    }
  }
  return { present, ...(captured !== undefined && { captured }) };
}
