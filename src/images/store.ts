// The daemon's image store: OCI blobs by digest, a reference index (repositories.json,
// "name:tag" → manifest digest), and each image's boot files unpacked read-only for booting.
// Layout under <root>/images/:
//   blobs/sha256/<hex>          manifests, configs, layers (OCI image layout style)
//   repositories.json           { version, images: {manifestDigest: {id}}, references: {ref: manifestDigest} }
//   unpacked/<manifestHex>/     kernel, initrd, disk.img (mode 0444)
//   tmp/                        staging areas of imports and loads in progress
//   partial/<hex>               bytes of cut pull downloads, resumed by the next pull (partial.ts)
// New content is staged under tmp/ and committed synchronously (blobs renamed into place,
// then the index written atomically), so a failure or crash never leaves a half-made image
// visible; leftovers are swept when the store opens. Only this code (with content.ts, which
// holds the stored content and makes every change to it) touches the directory. Staging an import
// is in import-kernel.ts, a build's in build.ts, a load's or pull's in load.ts.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid, conflict } from '../errors.js';
import type { ImageBootInfo } from '../families/types.js';
import type { BootArtifacts, ImageDetail, ImageSummary, ImportOptions, RemoveResult } from './types.js';
import { Staging, digestHex } from './blobs.js';
import { linkInto, stageBuilt, validateImportOptions, type PrebuiltLayer } from './build.js';
import { diskUsage } from '../util/disk-usage.js';
import { ImageContent, type RemovalItem } from './content.js';
import { stagedSize, stageKernelImport } from './import-kernel.js';
import { BlobCorruptError, layoutEntries, readLayout, writeLayout } from './layout.js';
import { imageName } from './check.js';
import type { CheckProblem } from '../api/check.js';
import { collectImages, unpackedFiles, type LoadedImage } from './load.js';
import { cunikMeta, MT, type Descriptor } from './oci.js';
import { parseTaggedReference } from './reference.js';
import type { ImageRecord } from './state.js';
import { PartialBlobs } from './partial.js';
import { imageHistory } from './history.js';

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
  private readonly content: ImageContent;
  private readonly state: ImageContent['state'];
  private readonly onProblem: ((line: string) => void) | undefined;
  private readonly tmpDir: string;
  /** Cut pull downloads kept for the next pull of the same digest. */
  readonly partial: PartialBlobs;
  private readonly knownFamilies: string[];
  private readonly onEvent: ((e: ImageEvent) => void) | undefined;

  constructor(rootDir: string, opts: ImageStoreOptions) {
    this.dir = join(rootDir, 'images');
    this.tmpDir = join(this.dir, 'tmp');
    this.knownFamilies = [...opts.knownFamilies];
    this.onEvent = opts.onEvent;
    this.content = new ImageContent(this.dir, this.tmpDir, join(rootDir, 'quarantine', 'images'));
    this.partial = new PartialBlobs(join(this.dir, 'partial'));
    this.partial.sweep();
    this.state = this.content.state;
    this.warnings = this.content.warnings;
    this.onProblem = opts.onProblem;
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
      history: imageHistory(r.config, r.manifest.layers),
    };
  }

  /** Resolve to the image id ("sha256:<config hex>"); throws notFound/invalid like inspect. */
  resolveId(refOrId: string): string {
    return this.state.resolve(refOrId).record.id;
  }

  /** Paths of the unpacked, read-only boot files. For a disk image without disk.img, disk = kernel. */
  bootArtifacts(imageId: string): BootArtifacts {
    const r = this.state.resolve(imageId).record;
    this.content.assertIntact(r);
    const files = unpackedFiles(this.content.unpacked(r.digest));
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
      ...(r.meta.stopSignal !== undefined && { stopSignal: r.meta.stopSignal }),
      ...(r.meta.stopTimeout !== undefined && { stopTimeout: r.meta.stopTimeout }),
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
      const image = await stageKernelImport(staging, { file, size: st.size, kernelSize: opts.kernelSize }, meta, target.ref);
      const record = this.content.commit(staging, [image])[0]!;
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
  async importBuilt(b: { ref: string; layers: PrebuiltLayer[]; configJson: string; files: { kernel: string; initrd?: string; disk?: string } }): Promise<ImageDetail> {
    const target = parseTaggedReference(b.ref, 'ref');
    const staging = await Staging.create(this.tmpDir, 'build');
    try {
      const built = await stageBuilt(staging, b.layers, b.configJson);
      const meta = cunikMeta(built.config, built.manifest, `image ${target.ref}`);
      if (!this.knownFamilies.includes(meta.family)) throw invalid(`unknown family: ${meta.family} (known: ${this.knownFamilies.join(', ')})`, 'family');
      const dir = await staging.unpackDir(built.manifestDigest);
      await linkInto(b.files.kernel, join(dir, 'kernel'));
      if (b.files.initrd !== undefined) await linkInto(b.files.initrd, join(dir, 'initrd'));
      if (b.files.disk !== undefined) await linkInto(b.files.disk, join(dir, 'disk.img'));
      const record = this.content.commit(staging, [{
        ...built, manifestSize: stagedSize(staging, built.manifestDigest), meta, refs: [target.ref],
      }])[0]!;
      this.emit({ action: 'import', id: record.id, ref: target.ref });
      return this.inspect(record.id);
    } finally {
      staging.dispose();
    }
  }

  // ---- tag / remove -----------------------------------------------------------------------

  /** Point `target` (name[:tag]) at the image `source` names. Returns the "name:tag" set. */
  tag(source: string, target: string): string {
    const r = this.state.resolve(source, 'source').record;
    const t = parseTaggedReference(target, 'target');
    this.content.mutate(() => this.state.setRef(t.ref, r.digest));
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

  /** Delete images that no instance uses and have no tag (`all`: tagged ones too, untagged first). */
  prune(opts: { inUse: (imageId: string) => boolean; all?: boolean }): RemoveResult {
    const victims = this.state.all()
      .filter((r) => (opts.all === true || this.state.tagsOf(r.digest).length === 0) && !opts.inUse(r.id))
      .map((record) => ({ record, untag: this.state.tagsOf(record.digest), drop: true }));
    return this.removeImages(victims);
  }

  private removeImages(items: RemovalItem[]): RemoveResult {
    const result: RemoveResult = { untagged: [], deleted: [] };
    if (items.length === 0) return result;
    this.content.remove(items);
    for (const it of items) {
      for (const t of it.untag) {
        result.untagged.push(t);
        this.emit({ action: 'untag', id: it.record.id, ref: t });
      }
      if (it.drop) {
        result.deleted.push(it.record.id);
        this.emit({ action: 'delete', id: it.record.id });
      }
    }
    return result;
  }

  /** Refuse an image with a blob known to be corrupt (export, boot), in one line naming it. */
  usable(ref: string): void {
    this.content.assertIntact(this.state.resolve(ref).record);
  }

  /** Bytes staged by imports, builds and loads in progress, and of cut pulls kept to resume (system df). */
  async tempUsage(): Promise<number> {
    return (await diskUsage(this.tmpDir)) + (await diskUsage(this.partial.dir));
  }

  // ---- check ------------------------------------------------------------------------------

  /**
   * Verify every blob against its digest and every image's boot files; `repair` drops the images
   * that cannot be used (and blobs only they held).
   */
  async check(repair: boolean): Promise<{ problems: CheckProblem[]; images: number; blobs: number }> {
    const found = await this.content.verify();
    const corrupt = this.content.corrupt;
    const images = this.state.all().length + this.content.broken.length;
    if (!repair) return { problems: found.problems, images, blobs: found.blobs };
    const unusable = this.state.all().filter((r) => r.blobs.some((d) => corrupt.has(d)) ||
      found.problems.some((p) => p.kind === 'image' && p.subject === imageName(this.state.tagsOf(r.digest), r.id)));
    if (unusable.length > 0) this.removeImages(unusable.map((record) => ({ record, untag: this.state.tagsOf(record.digest), drop: true })));
    this.content.dropDamaged();
    return { problems: found.problems.map((p) => ({ ...p, repaired: true })), images, blobs: found.blobs };
  }

  // ---- save / load ------------------------------------------------------------------------

  /** Write an OCI image layout tarball of the images to `out` (and end it). */
  async save(refs: string[], out: NodeJS.WritableStream): Promise<void> {
    if (!Array.isArray(refs) || refs.length === 0) throw invalid('nothing to save: name at least one image', 'refs');
    const { entries, digests } = layoutEntries(refs.map((ref) => this.state.resolve(ref)));
    const records = refs.map((ref) => this.state.resolve(ref).record);
    for (const r of records) this.content.assertIntact(r);
    const release = this.content.pin(digests);
    try {
      await writeLayout(this.content.blobs, entries, digests, out);
    } catch (err) {
      if (!(err instanceof BlobCorruptError)) throw err;
      // Found while copying it out: remembered, so the image is refused from now on (save, run).
      this.content.corrupt.set(err.digest, err.message);
      const r = records.find((x) => x.blobs.includes(err.digest)) ?? records[0]!;
      const line = `image ${imageName(this.state.tagsOf(r.digest), r.id)} is damaged: ${err.message}; cunik system check --repair removes it`;
      this.onProblem?.(line);
      throw conflict(line);
    } finally {
      release();
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
      return this.commitAnnounced(staging, await collectImages(staging, index, this.knownFamilies), 'load');
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
    const { blobs, corrupt } = this.content;
    if (corrupt.has(digest) || !blobs.has(digest)) return undefined;
    return blobs.path(digest);
  }

  /**
   * Add images whose blobs `fill` stages (a registry pull): checked and committed exactly as a
   * load is, so nothing is visible until every blob is verified, and nothing is left on failure.
   * `fill` returns the manifest descriptors, named by io.containerd.image.name annotations.
   */
  async ingest(fill: (staging: Staging) => Promise<Descriptor[]>, action: 'pull'): Promise<ImageSummary[]> {
    const staging = await Staging.create(this.tmpDir, action);
    try {
      return this.commitAnnounced(staging, await collectImages(staging, { manifests: await fill(staging) }, this.knownFamilies), action);
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
    this.content.assertIntact(r);
    const descs = [r.manifest.config, ...r.manifest.layers];
    const { blobs } = this.content;
    const release = this.content.pin([r.digest, ...descs.map((d) => d.digest)]);
    return {
      id: r.id,
      digest: r.digest,
      mediaType: r.manifest.mediaType ?? MT.manifest,
      manifest: blobs.readSync(r.digest),
      blobs: descs.map((d) => ({ digest: d.digest, size: d.size, path: blobs.path(d.digest) })),
      // Other names of images holding a blob: where a push may mount it from.
      tagsOf: (digest) => this.state.all().filter((x) => x.blobs.includes(digest)).flatMap((x) => this.state.tagsOf(x.digest)),
      release,
    };
  }

  /** Record a finished push in the event log. */
  pushed(id: string, ref: string): void {
    this.emit({ action: 'push', id, ref });
  }

  // ---- internals --------------------------------------------------------------------------

  /** Commit loaded or pulled images and announce each of their names (or the image, without one). */
  private commitAnnounced(staging: Staging, images: LoadedImage[], action: 'load' | 'pull'): ImageSummary[] {
    const records = this.content.commit(staging, images);
    records.forEach((r, i) => {
      const refs = images[i]!.refs;
      if (refs.length === 0) this.emit({ action, id: r.id });
      for (const ref of refs) this.emit({ action, id: r.id, ref });
    });
    return records.map((r) => this.summary(r));
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

