// The daemon's image store: OCI blobs by digest, a reference index (repositories.json,
// "name:tag" → manifest digest), and each image's boot files unpacked read-only for booting.
// Layout under <root>/images/:
//   blobs/sha256/<hex>          manifests, configs, layers (OCI image layout style)
//   repositories.json           { version, images: {manifestDigest: {id}}, references: {ref: manifestDigest} }
//   unpacked/<manifestHex>/     kernel, initrd, disk.img (mode 0444)
//   tmp/                        staging areas of imports and loads in progress
// New content is staged under tmp/ and committed synchronously (blobs renamed into place,
// then the index written atomically), so a failure or crash never leaves a half-made image
// visible; leftovers are swept when the store opens. Only this code touches the directory.

import { copyFile, open, rename, stat } from 'node:fs/promises';
import { createReadStream, createWriteStream, mkdirSync, existsSync, statSync, constants as fsConstants } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import { invalid, conflict } from '../errors.js';
import type { ImageBootInfo } from '../families/types.js';
import type { BootArtifacts, ImageDetail, ImageSummary, ImportOptions, RemoveResult } from './types.js';
import { BlobStore, Staging, digestHex } from './blobs.js';
import { linkInto, stageBuilt, stageImage, validateImportOptions, type PrebuiltLayer } from './build.js';
import { removeQuiet } from './fsutil.js';
import { diskUsage } from '../util/disk-usage.js';
import { makeRecord, readIndex, sweep, writeIndex, type BrokenImage } from './persist.js';
import type { DiskFormat } from './disk-image.js';
import { importLabels } from './import-facts.js';
import { detectKernelFormatFile } from './kernel-format.js';
import { BlobCorruptError, readLayout, writeLayout, type SaveEntry } from './layout.js';
import { checkImageStore, imageName } from './check.js';
import type { CheckProblem } from '../api/check.js';
import { collectImages, derivedLabels, unpackedFiles, type LoadedImage } from './load.js';
import { cunikMeta, defaultMemoryMiB, MT, type Descriptor } from './oci.js';
import { parseTaggedReference } from './reference.js';
import { ImageIndexState, type ImageRecord } from './state.js';

export type ImageEventAction = 'import' | 'tag' | 'untag' | 'delete' | 'load' | 'pull' | 'push';
export interface ImageEvent {
  action: ImageEventAction;
  id: string;
  ref?: string;
}

export interface ImageStoreOptions {
  /** Family names the daemon has adapters for; images of other families are refused. */
  knownFamilies: string[];
  onEvent?: (e: ImageEvent) => void;
  /** One line for the daemon's log when damage is found while serving (a corrupt blob on save). */
  onProblem?: (line: string) => void;
}

export interface RemoveOptions {
  force: boolean;
  /** Whether an instance uses the image (by image id, "sha256:<config hex>"). */
  inUse: (imageId: string) => boolean;
}

export class ImageStore {
  readonly dir: string;
  /** Problems found when opening the store, one line each naming the image (for the daemon's log). */
  readonly warnings: string[];
  /** Images the index names that could not be read: kept on disk, reported, dropped by check --repair. */
  private broken: BrokenImage[];
  /** Blobs found corrupt (by save or check): digest → the sentence. Images using them are refused. */
  private readonly corrupt = new Map<string, string>();
  private readonly onProblem: ((line: string) => void) | undefined;
  private readonly blobs: BlobStore;
  private readonly unpackedDir: string;
  private readonly tmpDir: string;
  private readonly indexPath: string;
  private readonly knownFamilies: string[];
  private readonly onEvent: ((e: ImageEvent) => void) | undefined;
  private readonly state = new ImageIndexState();
  /** Blobs being read by save(); deletion of these waits until they are released. */
  private readonly pins = new Map<string, number>();
  private readonly deferredDeletes = new Set<string>();

  constructor(rootDir: string, opts: ImageStoreOptions) {
    this.dir = join(rootDir, 'images');
    this.blobs = new BlobStore(join(this.dir, 'blobs'));
    this.unpackedDir = join(this.dir, 'unpacked');
    this.tmpDir = join(this.dir, 'tmp');
    this.indexPath = join(this.dir, 'repositories.json');
    this.knownFamilies = [...opts.knownFamilies];
    this.onEvent = opts.onEvent;
    this.blobs.init();
    mkdirSync(this.unpackedDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
    const report = readIndex(this.indexPath, this.blobs, this.state, join(rootDir, 'quarantine', 'images'),
      (d) => derivedLabels(join(this.unpackedDir, digestHex(d))));
    this.warnings = report.warnings;
    this.broken = report.broken;
    this.onProblem = opts.onProblem;
    sweep({ root: this.dir, tmp: this.tmpDir, unpacked: this.unpackedDir }, this.blobs, this.state, report);
  }

  // ---- queries ----------------------------------------------------------------------------

  list(): ImageSummary[] {
    return this.state.all()
      .sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0))
      .map((r) => this.summary(r));
  }

  /** name[:tag], name@sha256:..., sha256:<id>, <id hex>, or a unique id prefix (>= 4 hex). */
  inspect(refOrId: string): ImageDetail {
    const r = this.state.resolve(refOrId).record;
    const m = r.meta;
    return {
      ...this.summary(r),
      labels: { ...m.labels },
      args: [...m.args],
      env: [...m.env],
      memoryMiB: m.memoryMiB,
      cpus: m.cpus,
      architecture: r.config.architecture,
      os: r.config.os,
      layers: r.manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
    };
  }

  /** Resolve to the image id ("sha256:<config hex>"); throws notFound/invalid like inspect. */
  resolveId(refOrId: string): string {
    return this.state.resolve(refOrId).record.id;
  }

  /** Paths of the unpacked, read-only boot files. For a disk image without disk.img, disk = kernel. */
  bootArtifacts(imageId: string): BootArtifacts {
    const r = this.state.resolve(imageId).record;
    this.assertIntact(r);
    const files = unpackedFiles(join(this.unpackedDir, digestHex(r.digest)));
    const out: BootArtifacts = {};
    if (files.kernel) out.kernel = files.kernel;
    if (files.initrd) out.initrd = files.initrd;
    if (files.disk) out.disk = files.disk;
    else if (r.meta.boot === 'disk' && files.kernel) out.disk = files.kernel;
    return out;
  }

  bootInfo(imageId: string): ImageBootInfo {
    const r = this.state.resolve(imageId).record;
    const a = this.bootArtifacts(r.id);
    const repo = this.state.tagsOf(r.digest)[0]?.replace(/:[^:/]*$/, '');
    const info: ImageBootInfo = {
      family: r.meta.family,
      name: repo !== undefined ? repo.slice(repo.lastIndexOf('/') + 1) : digestHex(r.id).slice(0, 12),
      boot: r.meta.boot,
      args: [...r.meta.args],
      env: [...r.meta.env],
      memoryMiB: r.meta.memoryMiB,
      cpus: r.meta.cpus,
      labels: { ...r.meta.labels },
    };
    if (a.kernel) info.kernelPath = a.kernel;
    if (a.initrd) info.initrdPath = a.initrd;
    if (a.disk) info.diskPath = a.disk;
    return info;
  }

  // ---- import -----------------------------------------------------------------------------

  async importKernel(file: string, ref: string, opts: ImportOptions): Promise<ImageDetail> {
    const meta = validateImportOptions(opts, this.knownFamilies);
    const target = parseTaggedReference(ref, 'ref');
    let st;
    try {
      st = await stat(file);
    } catch (err) {
      throw invalid(`cannot read kernel file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'file');
    }
    if (!st.isFile()) throw invalid(`kernel file ${file} is not a regular file`, 'file');

    const staging = await Staging.create(this.tmpDir, 'import');
    try {
      // Work on private copies so the files cannot change between detection and packing.
      const kernel = staging.scratch('kernel');
      const disk = opts.kernelSize !== undefined ? staging.scratch('disk') : undefined;
      if (disk === undefined) await copyFile(file, kernel, fsConstants.COPYFILE_FICLONE);
      else await splitUpload(file, st.size, opts.kernelSize!, kernel, disk);
      for (const f of disk === undefined ? [kernel] : [kernel, disk]) {
        const fh = await open(f, 'r');
        await fh.sync().finally(() => fh.close());
      }
      const { boot, diskFormat } = detectKernelFormatFile(kernel);
      let separate: { path: string; format: DiskFormat } | undefined;
      if (disk !== undefined) {
        if (boot === 'disk') throw invalid('the kernel given with a disk image is itself a disk image', 'kernel');
        const d = detectKernelFormatFile(disk);
        if (d.boot !== 'disk') throw invalid('the disk image is not a disk image (an MBR or a qcow2 header)', 'disk');
        separate = { path: disk, format: d.diskFormat ?? 'raw' };
      }
      const labels = importLabels({ family: meta.family, kernel, boot, ...(diskFormat && { diskFormat }), ...(separate && { disk: separate }) });
      const full = { ...meta, boot, memoryMiB: meta.memoryMiB ?? defaultMemoryMiB(boot) };
      const built = await stageImage(staging, { kernel, ...(disk !== undefined && { disk }) }, full,
        `cunik image import --family ${meta.family} ${JSON.stringify(file)}`, labels);
      const unpacked = await staging.unpackDir(built.manifestDigest);
      await rename(kernel, join(unpacked, 'kernel'));
      if (disk !== undefined) await rename(disk, join(unpacked, 'disk.img'));
      const record = this.commit(staging, [{
        manifestDigest: built.manifestDigest,
        manifestSize: this.stagedSize(staging, built.manifestDigest),
        manifest: built.manifest,
        configDigest: built.configDigest,
        config: built.config,
        meta: cunikMeta(built.config, built.manifest, `image ${target.ref}`),
        blobs: built.blobs,
        refs: [target.ref],
      }])[0]!;
      this.emit({ action: 'import', id: record.id, ref: target.ref });
      return this.inspect(record.id);
    } finally {
      staging.dispose();
    }
  }

  /**
   * Commit an image made by `cunik build`: its layers and boot files come finished from the
   * build cache (linked in, not copied) and its config is stored byte for byte, so an unchanged
   * build gives the same image id. Checked like a loaded image (labels, family, boot files).
   */
  async importBuilt(b: { ref: string; layers: PrebuiltLayer[]; configJson: string; files: { kernel: string; initrd?: string } }): Promise<ImageDetail> {
    const target = parseTaggedReference(b.ref, 'ref');
    const staging = await Staging.create(this.tmpDir, 'build');
    try {
      const built = await stageBuilt(staging, b.layers, b.configJson);
      const meta = cunikMeta(built.config, built.manifest, `image ${target.ref}`);
      if (!this.knownFamilies.includes(meta.family)) throw invalid(`unknown family: ${meta.family} (known: ${this.knownFamilies.join(', ')})`, 'family');
      const dir = await staging.unpackDir(built.manifestDigest);
      await linkInto(b.files.kernel, join(dir, 'kernel'));
      if (b.files.initrd !== undefined) await linkInto(b.files.initrd, join(dir, 'initrd'));
      const record = this.commit(staging, [{
        ...built, manifestSize: this.stagedSize(staging, built.manifestDigest), meta, refs: [target.ref],
      }])[0]!;
      this.emit({ action: 'import', id: record.id, ref: target.ref });
      return this.inspect(record.id);
    } finally {
      staging.dispose();
    }
  }

  private stagedSize(staging: Staging, digest: string): number {
    return statSync(staging.blobPath(digest)!).size;
  }

  // ---- tag / remove -----------------------------------------------------------------------

  /** Point `target` (name[:tag]) at the image `source` names. Returns the "name:tag" set. */
  tag(source: string, target: string): string {
    const r = this.state.resolve(source, 'source').record;
    const t = parseTaggedReference(target, 'target');
    this.mutate(() => this.state.setRef(t.ref, r.digest));
    this.emit({ action: 'tag', id: r.id, ref: t.ref });
    return t.ref;
  }

  /** Docker's image delete: by tag untags (deleting the image with its last tag), by id deletes. */
  remove(ref: string, opts: RemoveOptions): RemoveResult {
    const res = this.state.resolve(ref);
    const r = res.record;
    const tags = this.state.tagsOf(r.digest);
    const used = opts.inUse(r.id);
    const short = digestHex(r.id).slice(0, 12);
    let untag: string[];
    if (res.via === 'ref' && tags.length > 1) {
      untag = [res.ref!];
    } else {
      if (used && !opts.force) throw conflict(`image ${ref} is in use by an instance; use -f`);
      if (res.via !== 'ref' && tags.length > 1 && !opts.force) {
        throw conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
      }
      untag = res.via === 'ref' ? [res.ref!] : tags;
    }
    const remaining = tags.filter((t) => !untag.includes(t));
    const drop = remaining.length === 0 && !used;
    return this.removeImages([{ record: r, untag, drop }]);
  }

  /** Delete images that have no tag and no instance using them. */
  prune(opts: { inUse: (imageId: string) => boolean }): RemoveResult {
    const victims = this.state.all()
      .filter((r) => this.state.tagsOf(r.digest).length === 0 && !opts.inUse(r.id))
      .map((record) => ({ record, untag: [] as string[], drop: true }));
    return this.removeImages(victims);
  }

  private removeImages(items: { record: ImageRecord; untag: string[]; drop: boolean }[]): RemoveResult {
    const result: RemoveResult = { untagged: [], deleted: [] };
    if (items.length === 0) return result;
    this.mutate(() => {
      for (const it of items) {
        for (const t of it.untag) this.state.deleteRef(t);
        if (it.drop) this.state.deleteImage(it.record.digest);
      }
    });
    for (const it of items) {
      for (const t of it.untag) {
        result.untagged.push(t);
        this.emit({ action: 'untag', id: it.record.id, ref: t });
      }
      if (it.drop) {
        this.deleteFiles(it.record);
        result.deleted.push(it.record.id);
        this.emit({ action: 'delete', id: it.record.id });
      }
    }
    return result;
  }

  /** Refuse an image with a blob known to be corrupt (export, boot), in one line naming it. */
  usable(ref: string): void {
    this.assertIntact(this.state.resolve(ref).record);
  }

  private assertIntact(r: ImageRecord): void {
    const bad = r.blobs.find((d) => this.corrupt.has(d));
    if (bad !== undefined) throw conflict(`image ${imageName(this.state.tagsOf(r.digest), r.id)} is damaged: ${this.corrupt.get(bad)!}; cunik system check --repair removes it`);
  }

  /** Bytes staged by imports, builds and loads in progress (system df). */
  tempUsage(): Promise<number> {
    return diskUsage(this.tmpDir);
  }

  // ---- check ------------------------------------------------------------------------------

  /**
   * Verify every blob against its digest and every image's boot files; `repair` drops the images
   * that cannot be used (and blobs only they held).
   */
  async check(repair: boolean): Promise<{ problems: CheckProblem[]; images: number; blobs: number }> {
    const found = await checkImageStore({
      blobs: this.blobs,
      images: this.state.all(),
      tagsOf: (d) => this.state.tagsOf(d),
      broken: this.broken,
      bootFiles: (r) => {
        const files = unpackedFiles(join(this.unpackedDir, digestHex(r.digest)));
        return files.kernel !== undefined || files.disk !== undefined ? [] : [join(this.unpackedDir, digestHex(r.digest), 'kernel')];
      },
    });
    for (const [d, why] of found.corrupt) this.corrupt.set(d, why);
    const images = this.state.all().length + this.broken.length;
    if (!repair) return { problems: found.problems, images, blobs: found.blobs };
    const unusable = this.state.all().filter((r) => r.blobs.some((d) => this.corrupt.has(d)) ||
      found.problems.some((p) => p.kind === 'image' && p.subject === imageName(this.state.tagsOf(r.digest), r.id)));
    if (unusable.length > 0) this.removeImages(unusable.map((record) => ({ record, untag: this.state.tagsOf(record.digest), drop: true })));
    const keep = new Set(this.state.all().flatMap((r) => r.blobs));
    for (const b of this.broken) {
      for (const d of b.blobs) if (!keep.has(d)) this.blobs.deleteSync(d);
      removeQuiet(join(this.unpackedDir, digestHex(b.digest)));
    }
    if (this.broken.length > 0) {
      this.broken = [];
      this.mutate(() => undefined); // the index forgets them
    }
    for (const d of [...this.corrupt.keys()]) {
      if (!keep.has(d)) this.blobs.deleteSync(d);
      this.corrupt.delete(d);
    }
    return { problems: found.problems.map((p) => ({ ...p, repaired: true })), images, blobs: found.blobs };
  }

  // ---- save / load ------------------------------------------------------------------------

  /** Write an OCI image layout tarball of the images to `out` (and end it). */
  async save(refs: string[], out: NodeJS.WritableStream): Promise<void> {
    if (!Array.isArray(refs) || refs.length === 0) throw invalid('nothing to save: name at least one image', 'refs');
    const entries: SaveEntry[] = [];
    const digests: string[] = [];
    const seen = new Set<string>();
    for (const ref of refs) {
      const res = this.state.resolve(ref);
      const r = res.record;
      const key = `${r.digest} ${res.ref ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const e: SaveEntry = { manifest: { mediaType: r.manifest.mediaType ?? MT.manifest, digest: r.digest, size: r.manifestSize } };
      if (res.ref !== undefined) {
        const i = res.ref.lastIndexOf(':');
        e.ref = { name: res.ref.slice(0, i), tag: res.ref.slice(i + 1) };
      }
      entries.push(e);
      for (const d of [r.digest, r.manifest.config.digest, ...r.manifest.layers.map((l) => l.digest)]) {
        if (!digests.includes(d)) digests.push(d);
      }
    }
    const records = refs.map((ref) => this.state.resolve(ref).record);
    for (const r of records) this.assertIntact(r);
    for (const d of digests) this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
    try {
      await writeLayout(this.blobs, entries, digests, out);
    } catch (err) {
      if (!(err instanceof BlobCorruptError)) throw err;
      // Found while copying it out: remembered, so the image is refused from now on (save, run).
      this.corrupt.set(err.digest, err.message);
      const r = records.find((x) => x.blobs.includes(err.digest)) ?? records[0]!;
      const line = `image ${imageName(this.state.tagsOf(r.digest), r.id)} is damaged: ${err.message}; cunik system check --repair removes it`;
      this.onProblem?.(line);
      throw conflict(line);
    } finally {
      for (const d of digests) {
        const n = (this.pins.get(d) ?? 1) - 1;
        if (n > 0) this.pins.set(d, n);
        else this.pins.delete(d);
      }
      this.flushDeferred();
    }
  }

  /** Read an OCI layout tarball; every blob is verified before any image becomes visible. */
  async load(input: NodeJS.ReadableStream): Promise<ImageSummary[]> {
    // Listen at once: the input may fail before reading starts; the reader then sees the error.
    const swallow = () => {};
    input.on('error', swallow);
    const staging = await Staging.create(this.tmpDir, 'load');
    try {
      const index = await readLayout(input, staging);
      const images = await collectImages(staging, index, this.knownFamilies);
      const records = this.commit(staging, images);
      records.forEach((r, i) => {
        const refs = images[i]!.refs;
        if (refs.length === 0) this.emit({ action: 'load', id: r.id });
        for (const ref of refs) this.emit({ action: 'load', id: r.id, ref });
      });
      return records.map((r) => this.summary(r));
    } finally {
      input.removeListener('error', swallow);
      staging.dispose();
    }
  }

  // ---- registry pull / push -------------------------------------------------------------

  /** The id of the stored image with this manifest digest, if any (a pull then fetches nothing). */
  imageByManifest(digest: string): string | undefined {
    return this.state.byDigest(digest)?.id;
  }

  /** Path of a stored, intact blob (a pull links it instead of downloading it again). */
  storedBlob(digest: string): string | undefined {
    if (this.corrupt.has(digest) || !this.blobs.has(digest)) return undefined;
    return this.blobs.path(digest);
  }

  /**
   * Add images whose blobs `fill` stages (a registry pull): checked and committed exactly as a
   * load is, so nothing is visible until every blob is verified, and nothing is left on failure.
   * `fill` returns the manifest descriptors, named by io.containerd.image.name annotations.
   */
  async ingest(fill: (staging: Staging) => Promise<Descriptor[]>, action: 'pull'): Promise<ImageSummary[]> {
    const staging = await Staging.create(this.tmpDir, action);
    try {
      const images = await collectImages(staging, { manifests: await fill(staging) }, this.knownFamilies);
      const records = this.commit(staging, images);
      records.forEach((r, i) => {
        const refs = images[i]!.refs;
        if (refs.length === 0) this.emit({ action, id: r.id });
        for (const ref of refs) this.emit({ action, id: r.id, ref });
      });
      return records.map((r) => this.summary(r));
    } finally {
      staging.dispose();
    }
  }

  /**
   * What a push sends: the manifest bytes and every blob's path, pinned (not deleted by an rmi)
   * until release() is called. Refuses an image known to be damaged.
   */
  pushSource(ref: string): {
    id: string; digest: string; mediaType: string; manifest: Buffer;
    blobs: { digest: string; size: number; path: string }[]; tagsOf: (digest: string) => string[];
    release: () => void;
  } {
    const r = this.state.resolve(ref).record;
    this.assertIntact(r);
    const descs = [r.manifest.config, ...r.manifest.layers];
    const pinned = [r.digest, ...descs.map((d) => d.digest)];
    for (const d of pinned) this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
    let released = false;
    return {
      id: r.id,
      digest: r.digest,
      mediaType: r.manifest.mediaType ?? MT.manifest,
      manifest: this.blobs.readSync(r.digest),
      blobs: descs.map((d) => ({ digest: d.digest, size: d.size, path: this.blobs.path(d.digest) })),
      // Other names of images holding a blob: where a push may mount it from.
      tagsOf: (digest) => this.state.all().filter((x) => x.blobs.includes(digest)).flatMap((x) => this.state.tagsOf(x.digest)),
      release: () => {
        if (released) return;
        released = true;
        for (const d of pinned) {
          const n = (this.pins.get(d) ?? 1) - 1;
          if (n > 0) this.pins.set(d, n);
          else this.pins.delete(d);
        }
        this.flushDeferred();
      },
    };
  }

  /** Record a finished push in the event log. */
  pushed(id: string, ref: string): void {
    this.emit({ action: 'push', id, ref });
  }

  // ---- internals --------------------------------------------------------------------------

  /**
   * Make staged images visible: blobs and unpacked dirs moved into place, then the index
   * written. Synchronous, so no other change interleaves. An image whose config (id) is
   * already stored keeps its stored manifest; its new names point there (Docker's rule).
   */
  private commit(staging: Staging, images: LoadedImage[]): ImageRecord[] {
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
    const damaged = new Set([...this.corrupt.keys(), ...this.broken.flatMap((b) => b.blobs)]);
    const replaced = [...new Set(fresh.flatMap((i) => i.blobs))].filter((d) => damaged.has(d) && this.blobs.has(d) && staging.hasBlob(d));
    for (const d of replaced) this.blobs.deleteSync(d);
    for (const img of fresh) if (this.broken.some((b) => b.digest === img.manifestDigest)) removeQuiet(join(this.unpackedDir, digestHex(img.manifestDigest)));
    const newBlobs = [...new Set(fresh.flatMap((i) => i.blobs))].filter((d) => !this.blobs.has(d));
    const newDirs = fresh.map((i) => i.manifestDigest).filter((m) => !existsSync(join(this.unpackedDir, digestHex(m))));
    staging.commit(this.blobs, this.unpackedDir, newBlobs, newDirs);
    for (const d of replaced) this.corrupt.delete(d);
    this.broken = this.broken.filter((b) => !fresh.some((i) => i.manifestDigest === b.digest));
    try {
      this.mutate(() => {
        for (const img of fresh) this.state.addImage(makeRecord(img.manifestDigest, img.manifestSize, img.manifest, img.config, img.meta));
        images.forEach((img, i) => {
          for (const ref of img.refs) this.state.setRef(ref, targets[i]!);
        });
      });
    } catch (err) {
      for (const d of newBlobs) if (!this.referenced(d)) this.blobs.deleteSync(d);
      for (const m of newDirs) removeQuiet(join(this.unpackedDir, digestHex(m)));
      throw err;
    }
    return targets.map((d) => this.state.byDigest(d)!);
  }

  /** Apply a change to the in-memory index and persist it; on a write failure, undo it. */
  private mutate(change: () => void): void {
    const snapshot = this.state.snapshot();
    change();
    try {
      writeIndex(this.indexPath, this.state, this.broken);
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
    removeQuiet(join(this.unpackedDir, digestHex(r.digest)));
  }

  private flushDeferred(): void {
    for (const d of [...this.deferredDeletes]) {
      if (this.pins.has(d)) continue;
      this.deferredDeletes.delete(d);
      if (!this.referenced(d)) this.blobs.deleteSync(d);
    }
  }

  private summary(r: ImageRecord): ImageSummary {
    return {
      id: r.id,
      digest: r.digest,
      repoTags: this.state.tagsOf(r.digest),
      created: r.created,
      size: r.size,
      family: r.meta.family,
      boot: r.meta.boot,
    };
  }

  private emit(e: ImageEvent): void {
    if (!this.onEvent) return;
    try {
      this.onEvent(e);
    } catch {
      // A listener's failure must not undo a completed change.
    }
  }
}

/** A two-file upload (kernel then disk, `kernelSize` bytes of kernel) into its two staging files. */
async function splitUpload(file: string, size: number, kernelSize: number, kernel: string, disk: string): Promise<void> {
  if (!Number.isSafeInteger(kernelSize) || kernelSize < 1 || kernelSize >= size) {
    throw invalid(`kernelSize must be between 1 and the upload's size less one byte (${size - 1}), got ${kernelSize}`, 'kernelSize');
  }
  await pipeline(createReadStream(file, { end: kernelSize - 1 }), createWriteStream(kernel, { mode: 0o600 }));
  await pipeline(createReadStream(file, { start: kernelSize }), createWriteStream(disk, { mode: 0o600 }));
}
