// The kernel's size in an image, for the image page: the size of the boot file's tar entry in the
// image's layers (Cunik's cunik/kernel, KraftKit's /unikraft/bin/kernel, or the path another
// tool's layout names, as images/foreign.ts reads it). Only tar headers are read; the layer's bytes stream past and nothing is
// written. Layers are untrusted: a malformed one just gives no size.
import type { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import type { BlobInfo } from './model.js';
import { decompressor, type Compression } from '../../util/decompress.js';
import { layerCompressionOf } from '../../images/oci.js';

/** Layers larger than this are not scanned (the page says the size is not known). */
export const MAX_SCANNED_LAYER = 512 * 1024 * 1024;
const KERNEL_PATHS = ['cunik/kernel', 'unikraft/bin/kernel'];

/** Entry names as layers write them: "./x", "/x" and "x" are the same file. */
export const entryPath = (name: string): string => name.replace(/^(?:\.\/|\/)+/, '');

/** The paths a kernel may be at: where another tool's layout puts it (images/foreign.ts), then the usual ones. */
export function kernelPaths(kernelPath?: string): string[] {
  return kernelPath !== undefined ? [entryPath(kernelPath), ...KERNEL_PATHS] : KERNEL_PATHS;
}

/** A layer's compression by its media type (images/oci.ts); undefined: not read. */
export const layerCompressed = layerCompressionOf;

/** The size of the first entry at one of `paths` in a tar stream, or undefined. */
async function scan(source: Readable, kind: Compression | 'none', paths: string[]): Promise<number | undefined> {
  const extract = tarExtract();
  const fed = kind !== 'none' ? source.pipe(decompressor(kind)) : source;
  fed.on('error', (err) => extract.destroy(err));
  source.on('error', (err) => extract.destroy(err));
  fed.pipe(extract);
  try {
    for await (const entry of extract) {
      const name = entryPath(entry.header.name);
      if (entry.header.type === 'file' && paths.includes(name)) return entry.header.size ?? 0;
      entry.resume();
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    extract.destroy();
    source.destroy();
    fed.destroy(); // a zstd layer's decompressor is a child process: stopped once the entry is found
  }
}

/**
 * The kernel's size: the last layer holding one of the paths wins (later layers override earlier
 * ones); layers scanned last to first.
 */
export async function kernelSize(layers: BlobInfo[], kernelPath: string | undefined, open: (digest: string) => Readable): Promise<number | undefined> {
  const paths = kernelPaths(kernelPath);
  for (const l of [...layers].reverse()) {
    const kind = layerCompressed(l.mediaType);
    if (kind === undefined || l.size > MAX_SCANNED_LAYER) continue;
    const size = await scan(open(l.digest), kind, paths);
    if (size !== undefined) return size;
  }
  return undefined;
}
