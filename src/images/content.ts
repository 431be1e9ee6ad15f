// What the image store holds, and every change made to it: the blobs by digest, the index
// (repositories.json, held in memory by ImageIndexState), each image's unpacked boot files, and
// what is known to be damaged (corrupt blobs; images the index names that could not be read).
// Changes are synchronous, so none interleaves with another: staged images are committed (files
// moved into place, then the index written), removed images' files deleted unless another image
// or a reader (save, push) still holds them. store.ts decides what changes and announces it.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { conflict } from '../errors.js';
import { BlobStore, Staging, digestHex } from './blobs.js';
import { checkImageStore, imageName, type ImageCheck } from './check.js';
import { removeQuiet } from './fsutil.js';
import { derivedLabels, unpackedFiles, type LoadedImage } from './load.js';
import { makeRecord, readIndex, sweep, writeIndex, type BrokenImage } from './persist.js';
import { ImageIndexState, type ImageRecord } from './state.js';

/** One image a removal touches: the names it loses, and whether its files go too. */
export interface RemovalItem {
  record: ImageRecord;
  untag: string[];
  drop: boolean;
}

export class ImageContent {
  readonly blobs: BlobStore;
  readonly state = new ImageIndexState();
  readonly unpackedDir: string;
  /** Problems found when opening the store, one line each naming the image (for the daemon's log). */
  readonly warnings: string[];
  /** Images the index names that could not be read: kept on disk, reported, dropped by check --repair. */
  private brokenImages: BrokenImage[];
  /** Blobs found corrupt (by save or check): digest → the sentence. Images using them are refused. */
  readonly corrupt = new Map<string, string>();
  /** Blobs being read by save() or a push; deletion of these waits until they are released. */
  private readonly pins = new Map<string, number>();
  private readonly deferredDeletes = new Set<string>();
  private readonly indexPath: string;

  /** Open the store's directory `dir` (<root>/images): read the index, sweep what a crash left in `tmpDir`. */
  constructor(dir: string, tmpDir: string, quarantineDir: string) {
    this.blobs = new BlobStore(join(dir, 'blobs'));
    this.unpackedDir = join(dir, 'unpacked');
    this.indexPath = join(dir, 'repositories.json');
    this.blobs.init();
    mkdirSync(this.unpackedDir, { recursive: true });
    mkdirSync(tmpDir, { recursive: true });
    const report = readIndex(this.indexPath, this.blobs, this.state, quarantineDir, (d) => derivedLabels(this.unpacked(d)));
    this.warnings = report.warnings;
    this.brokenImages = report.broken;
    sweep({ root: dir, tmp: tmpDir, unpacked: this.unpackedDir }, this.blobs, this.state, report);
  }

  get broken(): readonly BrokenImage[] {
    return this.brokenImages;
  }

  /** The folder of an image's unpacked boot files (by manifest digest). */
  unpacked(manifestDigest: string): string {
    return join(this.unpackedDir, digestHex(manifestDigest));
  }

  /** Refuse an image with a blob known to be corrupt (export, boot), in one line naming it. */
  assertIntact(r: ImageRecord): void {
    const bad = r.blobs.find((d) => this.corrupt.has(d));
    if (bad !== undefined) throw conflict(`image ${imageName(this.state.tagsOf(r.digest), r.id)} is damaged: ${this.corrupt.get(bad)!}; cunik system check --repair removes it`);
  }

  /** Hold these blobs against deletion while they are read; the returned function lets go (once). */
  pin(digests: string[]): () => void {
    for (const d of digests) this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const d of digests) {
        const n = (this.pins.get(d) ?? 1) - 1;
        if (n > 0) this.pins.set(d, n);
        else this.pins.delete(d);
      }
      this.flushDeferred();
    };
  }

  /**
   * Make staged images visible: blobs and unpacked dirs moved into place, then the index
   * written. Synchronous, so no other change interleaves. An image whose config (id) is
   * already stored keeps its stored manifest; its new names point there (Docker's rule).
   */
  commit(staging: Staging, images: LoadedImage[]): ImageRecord[] {
    const fresh: LoadedImage[] = [];
    const targets: string[] = [];
    const freshById = new Map<string, string>();
    for (const img of images) {
      const existing = this.state.byDigest(img.manifestDigest) ?? this.state.byId(img.configDigest);
      const sibling = freshById.get(img.configDigest);
      if (existing) targets.push(existing.digest);
      else if (sibling !== undefined) targets.push(sibling);
      else {
        fresh.push(img);
        freshById.set(img.configDigest, img.manifestDigest);
        targets.push(img.manifestDigest);
      }
    }
    // A verified copy of a damaged blob (or of a broken image) replaces the stored one.
    const damaged = new Set([...this.corrupt.keys(), ...this.brokenImages.flatMap((b) => b.blobs)]);
    const replaced = [...new Set(fresh.flatMap((i) => i.blobs))].filter((d) => damaged.has(d) && this.blobs.has(d) && staging.hasBlob(d));
    for (const d of replaced) this.blobs.deleteSync(d);
    for (const img of fresh) if (this.brokenImages.some((b) => b.digest === img.manifestDigest)) removeQuiet(this.unpacked(img.manifestDigest));
    const newBlobs = [...new Set(fresh.flatMap((i) => i.blobs))].filter((d) => !this.blobs.has(d));
    const newDirs = fresh.map((i) => i.manifestDigest).filter((m) => !existsSync(this.unpacked(m)));
    staging.commit(this.blobs, this.unpackedDir, newBlobs, newDirs);
    for (const d of replaced) this.corrupt.delete(d);
    this.brokenImages = this.brokenImages.filter((b) => !fresh.some((i) => i.manifestDigest === b.digest));
    try {
      this.mutate(() => {
        for (const img of fresh) this.state.addImage(makeRecord(img.manifestDigest, img.manifestSize, img.manifest, img.config, img.meta));
        images.forEach((img, i) => {
          for (const ref of img.refs) this.state.setRef(ref, targets[i]!);
        });
      });
    } catch (err) {
      for (const d of newBlobs) if (!this.referenced(d)) this.blobs.deleteSync(d);
      for (const m of newDirs) removeQuiet(this.unpacked(m));
      throw err;
    }
    return targets.map((d) => this.state.byDigest(d)!);
  }

  /** Untag and drop images: the index first, then the dropped images' files. */
  remove(items: RemovalItem[]): void {
    this.mutate(() => {
      for (const it of items) {
        for (const t of it.untag) this.state.deleteRef(t);
        if (it.drop) this.state.deleteImage(it.record.digest);
      }
    });
    for (const it of items) if (it.drop) this.deleteFiles(it.record);
  }

  /**
   * Verify every blob against its digest and every image's boot files (check.ts); the corrupt
   * blobs found are remembered, so the images using them are refused from now on.
   */
  async verify(): Promise<ImageCheck> {
    const found = await checkImageStore({
      blobs: this.blobs,
      images: this.state.all(),
      tagsOf: (d) => this.state.tagsOf(d),
      broken: this.brokenImages,
      bootFiles: (r) => {
        const files = unpackedFiles(this.unpacked(r.digest));
        return files.kernel !== undefined || files.disk !== undefined ? [] : [join(this.unpacked(r.digest), 'kernel')];
      },
    });
    for (const [d, why] of found.corrupt) this.corrupt.set(d, why);
    return found;
  }

  /** check --repair: forget the broken images and delete the corrupt blobs, unless a usable image holds them. */
  dropDamaged(): void {
    const keep = new Set(this.state.all().flatMap((r) => r.blobs));
    for (const b of this.brokenImages) {
      for (const d of b.blobs) if (!keep.has(d)) this.blobs.deleteSync(d);
      removeQuiet(this.unpacked(b.digest));
    }
    if (this.brokenImages.length > 0) {
      this.brokenImages = [];
      this.mutate(() => undefined); // the index forgets them
    }
    for (const d of [...this.corrupt.keys()]) {
      if (!keep.has(d)) this.blobs.deleteSync(d);
      this.corrupt.delete(d);
    }
  }

  /** Apply a change to the in-memory index and persist it; on a write failure, undo it. */
  mutate(change: () => void): void {
    const snapshot = this.state.snapshot();
    change();
    try {
      writeIndex(this.indexPath, this.state, this.brokenImages);
    } catch (err) {
      this.state.restore(snapshot);
      throw err;
    }
  }

  private referenced(digest: string): boolean {
    return this.state.all().some((r) => r.blobs.includes(digest));
  }

  private deleteFiles(r: ImageRecord): void {
    for (const d of r.blobs) {
      if (this.referenced(d)) continue;
      if (this.pins.has(d)) this.deferredDeletes.add(d);
      else this.blobs.deleteSync(d);
    }
    removeQuiet(this.unpacked(r.digest));
  }

  private flushDeferred(): void {
    for (const d of [...this.deferredDeletes]) {
      if (this.pins.has(d)) continue;
      this.deferredDeletes.delete(d);
      if (!this.referenced(d)) this.blobs.deleteSync(d);
    }
  }
}
