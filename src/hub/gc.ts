// Garbage collection, online (the hub keeps serving): mark what tags reach (manifests, an index's
// entries, referrers of kept manifests, their blobs), then sweep untagged manifests, blob links
// and blobs nothing reaches. Whatever was written or touched within the grace period stays: a push
// in progress has touched every blob it relies on (registry.hasBlob), and the driver's removal
// gives back anything touched while it decides (StorageDriver.removeIfOlder). One GC at a time
// across every process over the store (a lock in the store).
import * as k from './keys.js';
import { parseManifest } from './media.js';
import type { Registry } from './registry.js';
import type { StorageDriver } from './storage/driver.js';
import type { Uploads } from './uploads.js';

export interface GcOptions {
  graceMs: number;
  uploadTimeoutMs: number;
  dryRun?: boolean;
  now?: number;
}

export interface GcReport {
  dryRun: boolean;
  /** name@digest of each untagged manifest removed (or that would be). */
  manifests: string[];
  links: number;
  blobs: string[];
  bytes: number;
  uploads: number;
}

const text = (b: Buffer | undefined): string | undefined => b?.toString('utf8').trim();

export async function collectGarbage(store: StorageDriver, registry: Registry, uploads: Uploads, opts: GcOptions): Promise<GcReport> {
  const unlock = await store.lock(k.GC_LOCK);
  if (!unlock) throw new Error('another garbage collection is running on this store');
  try {
    return await run(store, registry, uploads, opts);
  } finally {
    await unlock();
  }
}

async function run(store: StorageDriver, registry: Registry, uploads: Uploads, opts: GcOptions): Promise<GcReport> {
  const now = opts.now ?? Date.now();
  const cutoff = now - opts.graceMs;
  const dry = opts.dryRun === true;
  const report: GcReport = { dryRun: dry, manifests: [], links: 0, blobs: [], bytes: 0, uploads: 0 };
  const remove = async (key: string): Promise<boolean> => {
    if (!dry) return store.removeIfOlder(key, cutoff);
    const st = await store.stat(key);
    return st !== undefined && st.modifiedMs < cutoff;
  };
  const marked = new Set<string>();

  for (const name of await registry.repositories()) {
    const kept = new Set<string>();
    const blobs = new Set<string>();
    const queue: string[] = [];
    for (const tag of await store.list(k.tagsPrefix(name))) {
      const d = text(await store.read(k.tagKey(name, tag)));
      if (d) queue.push(d);
    }
    while (queue.length > 0) {
      const d = queue.pop()!;
      if (kept.has(d)) continue;
      const link = await store.read(k.revisionKey(name, d));
      const body = link && (await store.read(k.blobKey(d)));
      if (!link || !body) continue;
      kept.add(d);
      const { mediaType } = JSON.parse(link.toString('utf8')) as { mediaType: string };
      try {
        const m = parseManifest(body, mediaType);
        m.blobs.forEach((b) => blobs.add(b));
        queue.push(...m.manifests);
      } catch {
        // Stored manifests were valid when pushed; one that no longer parses keeps only itself.
      }
      for (const hex of await store.list(k.referrersPrefix(name, d))) queue.push(`sha256:${hex}`);
    }
    for (const hex of await store.list(k.revisionsPrefix(name))) {
      const d = `sha256:${hex}`;
      if (kept.has(d)) continue;
      const link = await store.read(k.revisionKey(name, d));
      if (await remove(k.revisionKey(name, d))) {
        report.manifests.push(`${name}@${d}`);
        const subject = link && (JSON.parse(link.toString('utf8')) as { subject?: string }).subject;
        if (subject && !dry) await store.delete(k.referrerKey(name, subject, d));
      } else marked.add(d);
    }
    for (const hex of await store.list(k.layersPrefix(name))) {
      const d = `sha256:${hex}`;
      if (blobs.has(d)) continue;
      if (await remove(k.layerKey(name, d))) report.links++;
      else marked.add(d);
    }
    kept.forEach((d) => marked.add(d));
    blobs.forEach((d) => marked.add(d));
  }

  for (const hex of await store.list('blobs/sha256')) {
    const d = `sha256:${hex}`;
    if (marked.has(d)) continue;
    const size = (await store.stat(k.blobKey(d)))?.size ?? 0;
    if (await remove(k.blobKey(d))) {
      report.blobs.push(d);
      report.bytes += size;
    }
  }
  if (!dry) report.uploads = await uploads.expire(opts.uploadTimeoutMs, now);
  return report;
}
