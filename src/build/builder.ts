// One build: a parsed Cunikfile and its context in, an image in the store out, with progress
// lines on the way (Docker's "Step N/M : ..." then " ---> ..." shape). Every step's result is
// cached by the digest of its inputs (cache.ts), so an unchanged Cunikfile rebuilds nothing and
// gives the same image id, and a changed added file rebuilds only the initramfs.

import { createReadStream, createWriteStream, lstatSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { finished, pipeline } from 'node:stream/promises';
import { invalid } from '../errors.js';
import { HEALTH_LABEL } from '../instances/health-spec.js';
import type { PrebuiltLayer } from '../images/build.js';
import { BOOT_FILE, bootFile } from '../images/boot-file.js';
import { defaultMemoryMiB, DEFAULT_CPUS, LABEL, LABEL_MEMORY_MIN } from '../images/oci.js';
import type { ImageDetail } from '../images/types.js';
import { BUILDER_VERSION, digestOf, type BuildCache } from './cache.js';
import type { Context } from './context.js';
import type { BuildSpec } from './cunikfile.js';
import { importLabels } from '../images/import-facts.js';
import { defaultLinuxKernel, kernelStep, type KernelStep } from './kernel.js';
import { writeLayer } from './layer.js';
import { writeCpioGz } from './linux/cpio.js';
import { planInitramfs } from './linux/initramfs.js';
import { parseFrom } from './linux/container.js';
import { fromTree, treeRows, type FromTree } from './linux/from-cache.js';
import type { TreeRow } from './linux/rootfs.js';
import { resolveLibraries, type CollectedFile } from './linux/libs.js';
import { BASE_MODULES, ModuleIndex, selectModules, VOLUME_KIND_NAMES, VOLUME_MODULES, type ModuleFile, type VolumeKind } from './linux/modules.js';
import { readElf } from './linux/elf.js';
import { runtimeWarnings, scanStrings } from './linux/runtime-check.js';
import { kernelEnd, minimumMemoryMiB, residentBytes } from './linux/footprint.js';
import { makeRootDisk, ROOTDISK_MARGIN_MIB, ROOTDISK_MODULES, wantsRootDisk } from './linux/rootdisk.js';
import { hostTscKhz } from '../families/host.js';

export const LABEL_PORTS = 'org.cunik.ports';
export const LABEL_VOLUMES = 'org.cunik.volumes';
export const LABEL_KERNEL_RELEASE = 'org.cunik.kernel.release';
export const LABEL_INIT = 'org.cunik.init';
/** Set on linux images whose instances may start from a VM template (families/linux.ts). */
export const LABEL_CLONE = 'org.cunik.clone';
export const LABEL_TSC_KHZ = 'org.cunik.tsc-khz';
export { LABEL_MEMORY_MIN } from '../images/oci.js';
/** "disk" when the root file system is the image's read-only root disk (cunik/disk.img, linux/rootdisk.ts), not the initramfs. */
export const LABEL_ROOTFS = 'org.cunik.rootfs';
/** The volume kinds (share, block) a linux image's kernel can mount, comma-separated; absent: all. */
export const LABEL_VOLUME_KINDS = 'org.cunik.volume-kinds';

export interface BuiltImageStore {
  importBuilt(b: { ref: string; layers: PrebuiltLayer[]; configJson: string; files: { kernel: string; initrd?: string; disk?: string } }): Promise<ImageDetail>;
}

export interface BuilderDeps {
  cache: BuildCache;
  store: BuiltImageStore;
  /** cunik-init, built by scripts/build-init.sh. */
  initPath: string;
  modulesRoot: string;
  bootDir: string;
}

export interface BuildOptions {
  ref: string;
  noCache: boolean;
}

export type Progress = (line: string) => void;

const mib = (n: number): string => `${(n / (1 << 20)).toFixed(1)} MiB`;
const secs = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(2)} s`;
const short = (d: string): string => d.slice(7, 19);

/**
 * Every file the Cunikfile names, checked before the first step (docs/cunikfile.md): one outside
 * the context or missing stops the build at once, not after minutes of earlier steps.
 */
export function checkSources(spec: BuildSpec, ctx: Context): void {
  const check = (p: string, key: string): void => {
    const host = ctx.source(p, key);
    try {
      lstatSync(host);
    } catch {
      throw invalid(`${key}: no such file: ${p}${isAbsolute(p) ? ' (on the daemon\'s host)' : ' (in the build context)'}`, key);
    }
  };
  if (spec.kernel !== undefined) check(spec.kernel, 'kernel');
  if (spec.app !== undefined) check(spec.app, 'app');
  if (spec.from !== undefined) parseFrom(spec.from, (p) => (check(p, 'from'), p));
  spec.files.forEach((f, i) => check(f.src, `files[${i}].src`));
}

export async function build(spec: BuildSpec, ctx: Context, opts: BuildOptions, deps: BuilderDeps, say: Progress): Promise<ImageDetail> {
  checkSources(spec, ctx);
  const linux = spec.family === 'linux';
  const total = linux ? 4 : 2;
  let n = 0;
  const step = (what: string): void => say(`Step ${++n}/${total} : ${what}`);
  const t0 = Date.now();

  const kernelSrc = spec.kernel !== undefined ? ctx.source(spec.kernel, 'kernel') : defaultLinuxKernel(deps.bootDir);
  step(`kernel ${spec.kernel ?? kernelSrc}`);
  const kernel = await kernelStep(deps.cache, kernelSrc, spec.family, opts.noCache);
  say(kernel.cached ? ` ---> Using cache ${short(kernel.layer.digest)} (${kernel.note})` : ` ---> ${short(kernel.layer.digest)}: ${kernel.note}, layer ${mib(kernel.layer.size)}`);

  const layers: PrebuiltLayer[] = [kernel.layer];
  let initrd: string | undefined;
  let disk: string | undefined;
  let entrypoint: string[] | undefined;
  let effective = spec;
  let minMemoryMiB: number | undefined;
  if (linux) {
    const r = await linuxSteps(spec, ctx, opts, deps, kernel, step, say);
    if (r.disk !== undefined) layers.push(r.disk.layer);
    layers.push(r.layer);
    initrd = r.initrd;
    disk = r.disk?.file;
    entrypoint = r.entrypoint;
    // Recorded only when the kernel lacks a kind, so images of a full kernel keep their ids.
    const partial = r.volumeKinds !== undefined && r.volumeKinds.length < Object.keys(VOLUME_MODULES).length;
    // Its instances may start as clones of a template boot (families/linux.ts, vmm/qemu/template.ts):
    // a root disk (nothing of an instance's is in memory when the init waits) and a kernel with the port's driver.
    // "snapshot: app" (cunikfile.ts): the template is saved once the app listens, not before it runs.
    if (spec.snapshot === 'app' && !r.cloneable) throw invalid(`"snapshot: app" needs a root disk and a kernel with virtio_console (this image has ${r.disk === undefined ? 'no root disk' : `kernel ${kernel.release ?? 'unknown'} without it`})`, 'snapshot');
    const clone = spec.snapshot === 'none' || !r.cloneable ? undefined : spec.snapshot === 'app' ? 'app' : '1';
    const extra = { ...(partial && { [LABEL_VOLUME_KINDS]: r.volumeKinds!.join(',') }), ...(clone !== undefined && { [LABEL_CLONE]: clone }) };
    effective = { ...spec, args: r.args, env: r.env, ...(r.user !== undefined && { user: r.user }), ...(Object.keys(extra).length > 0 && { labels: { ...spec.labels, ...extra } }) };
    // With a root disk the guest holds only the small initramfs unpacked; what it reads of the disk
    // goes through its page cache (ROOTDISK_MARGIN_MIB), not into its memory whole.
    minMemoryMiB = minimumMemoryMiB(kernelEnd(kernel.file), statSync(r.initrd).size, r.resident) + (r.disk !== undefined ? ROOTDISK_MARGIN_MIB : 0);
    if (spec.memoryMiB !== undefined && spec.memoryMiB < minMemoryMiB) {
      throw invalid(`memory: ${spec.memoryMiB} MiB is too little: this kernel and initramfs need at least ${minMemoryMiB} MiB`, 'memory');
    }
  }

  step(`commit ${opts.ref}`);
  const configJson = await imageConfig(effective, kernel, layers, entrypoint, deps.cache, minMemoryMiB, disk !== undefined);
  const image = await deps.store.importBuilt({ ref: opts.ref, layers, configJson, files: { kernel: kernel.file, ...(initrd !== undefined && { initrd }), ...(disk !== undefined && { disk }) } });
  say(` ---> ${short(image.id)}`);
  say(`Successfully built ${short(image.id)} in ${secs(t0)}`);
  say(`Successfully tagged ${image.repoTags.includes(opts.ref) ? opts.ref : image.repoTags[0] ?? opts.ref}`);
  return image;
}

async function linuxSteps(
  spec: BuildSpec, ctx: Context, opts: BuildOptions, deps: BuilderDeps, kernel: KernelStep,
  step: (what: string) => void, say: Progress,
): Promise<{ layer: PrebuiltLayer; initrd: string; disk?: { layer: PrebuiltLayer; file: string }; cloneable: boolean; resident: number; entrypoint: string[]; args: string[]; env: string[]; user?: string; volumeKinds?: VolumeKind[] }> {
  let app: { host: string; guest: string } | undefined;
  let libs: CollectedFile[] = [];
  let rootfs: string | undefined;
  let rows: TreeRow[] | undefined;
  let entry: string[];
  let args = spec.args;
  let env = spec.env;
  let workdir: string | undefined;
  let user = spec.user;
  let tree: FromTree | undefined;
  if (spec.from !== undefined) {
    step(`from ${spec.from}`);
    const src = parseFrom(spec.from, (p) => ctx.source(p, 'from'));
    // The unpacked tree is cached by the archive's digest (linux/from-cache.ts): an unchanged
    // archive is neither unpacked nor its tree hashed again.
    const found = await fromTree(src, deps.cache, opts.noCache);
    tree = found.meta;
    rootfs = join(found.dir, 'rootfs');
    rows = await treeRows(found.dir);
    const image = tree.image;
    entry = image.command;
    if (args.length === 0) args = image.args;
    env = mergeEnv(image.env, spec.env);
    workdir = image.workdir;
    user ??= image.user;
    const runs = `runs ${[...entry, ...args].join(' ')}`;
    say(found.hit ? ` ---> from: Using cache ${short(tree.archive)}; ${runs}` : ` ---> ${image.layers} layers applied; ${runs}`);
  } else {
    const host = ctx.source(spec.app!, 'app');
    app = { host, guest: ctx.guestPath(host) };
    entry = [app.guest];
    step(`app ${spec.app}`);
    let elf;
    try {
      elf = readElf(host);
    } catch (err) {
      throw invalid(`app: ${(err as Error).message}`, 'app');
    }
    libs = resolveLibraries(host, { guestPath: (p) => ctx.guestPath(p) });
    say(elf.interp === undefined && libs.length === 0
      ? ' ---> statically linked: no libraries needed'
      : ` ---> ${libs.length} files from the loader and libraries: ${libs.map((l) => l.guest.split('/').pop()).join(', ')}`);
  }

  // A container tree over the threshold (or as the Cunikfile asks) goes on a read-only root disk
  // (linux/rootdisk.ts); its modules are then loaded at every boot.
  const rootDisk = wantsRootDisk(spec.rootfs, tree !== undefined, tree?.resident ?? 0);
  const wanted = [...BASE_MODULES, ...(rootDisk ? ROOTDISK_MODULES : []), ...spec.modules];
  let modules: { release: string; files: ModuleFile[]; onDemand?: ModuleFile[]; template?: ModuleFile[] } = { release: kernel.release ?? 'unknown', files: [] };
  // Left unset (every kind) when the kernel has no modules tree: virtio and file systems built in.
  let volumeKinds: VolumeKind[] | undefined;
  if (kernel.release !== undefined) {
    let index: ModuleIndex | undefined;
    try {
      index = new ModuleIndex(join(deps.modulesRoot, kernel.release));
    } catch (err) {
      if (spec.modules.length > 0) throw err;
      say(` ---> warning: no kernel modules (${(err as Error).message}); virtio devices need a kernel that builds them in`);
    }
    if (index !== undefined) {
      let chosen;
      try {
        chosen = selectModules(index, wanted);
      } catch (err) {
        // A kernel with a modules tree that lacks one the image needs would boot without its devices.
        throw invalid(`${(err as Error).message}, which the image needs${rootDisk ? ' to mount its root disk (or build it with rootfs: initramfs)' : ''}`, rootDisk ? 'rootfs' : 'modules');
      }
      modules = { release: kernel.release, files: chosen.files, onDemand: chosen.onDemand, ...(chosen.template !== undefined && { template: chosen.template }) };
      volumeKinds = chosen.volumeKinds;
      const lacking = (Object.keys(VOLUME_MODULES) as VolumeKind[]).filter((k) => !volumeKinds!.includes(k));
      if (lacking.length > 0) say(` ---> warning: kernel ${kernel.release} has no ${lacking.map((k) => VOLUME_MODULES[k].join('/')).join(' or ')} modules: runs of this image cannot mount ${lacking.map((k) => VOLUME_KIND_NAMES[k]).join(' or ')}`);
    }
  }

  const plan = await planInitramfs({
    init: deps.initPath,
    ...(rootfs !== undefined && { rootfs }),
    ...(rows !== undefined && { rootfsRows: rows }),
    ...(app !== undefined && { app }),
    libs,
    modules,
    files: spec.files.map((f) => ({ host: ctx.source(f.src, 'files'), guest: f.dst, ...(f.mode !== undefined && { mode: f.mode }) })),
    entry,
    env,
    ...(workdir !== undefined && { workdir }),
    users: spec.users,
    groups: spec.groups,
    ...(user !== undefined && { user }),
    rootDisk,
    ...(tree !== undefined && { rootfsKey: tree.treeKey }),
  });
  step(`initramfs: ${plan.counts.files} added files, ${plan.counts.modules} kernel modules${plan.disk !== undefined ? `; root disk: ${plan.disk.entries.length} entries of ${spec.from}` : ''}`);
  let disk: { layer: PrebuiltLayer; file: string } | undefined;
  if (plan.disk !== undefined) {
    const t1 = Date.now();
    // Keyed by the tree alone: the same base under another Cunikfile, or with other added files, reuses it.
    const made = await deps.cache.get(plan.disk.key, opts.noCache, async (dir) => {
      const file = join(dir, 'disk.img');
      await makeRootDisk(rootfs!, file);
      return { layer: await writeLayer([['cunik/disk.img', file]], join(dir, 'layer'), false) };
    });
    disk = { layer: { ...made.meta.layer, path: join(made.dir, 'layer') }, file: join(made.dir, 'disk.img') };
    say(made.hit ? ` ---> root disk: Using cache ${short(disk.layer.digest)}` : ` ---> root disk ${short(disk.layer.digest)}: erofs ${mib(statSync(disk.file).size)} in ${secs(t1)}`);
  }
  const t0 = Date.now();
  // Each archive compressed and cached on its own (initramfs.ts): a changed added file
  // recompresses only the small archive of added files, the base is reused.
  let reused = 0;
  const cached = await deps.cache.get(plan.key, opts.noCache, async (dir) => {
    const parts: string[] = [];
    for (const seg of plan.segments) {
      const part = await deps.cache.get(seg.key, opts.noCache, async (partDir) => {
        await writeCpioGz(seg.entries, join(partDir, 'cpio.gz'));
        return {};
      });
      if (part.hit) reused++;
      parts.push(join(part.dir, 'cpio.gz'));
    }
    const file = join(dir, 'initrd');
    await concatFiles(parts, file);
    const layer = await writeLayer([['cunik/initrd', file]], join(dir, 'layer'), false);
    // Warnings depend only on what the key covers: kept with the entry, not recomputed when cached.
    // Reading the app's and libraries' strings depends on the base archive only: cached by its key,
    // so a changed added file does not rescan them.
    const scanKey = digestOf({ step: 'runtime-scan', v: BUILDER_VERSION, base: plan.segments[0]!.key });
    const scan = (await deps.cache.get(scanKey, opts.noCache, () => scanStrings({ ...(app !== undefined && { app }), libs }))).meta;
    const warnings = await runtimeWarnings({ ...(app !== undefined && { app }), libs, entries: plan.guestEntries, scan });
    return { layer, warnings };
  });
  const layer: PrebuiltLayer = { ...cached.meta.layer, path: join(cached.dir, 'layer') };
  const note = reused > 0 ? ` (${reused} of ${plan.segments.length} archives from the cache)` : '';
  say(cached.hit ? ` ---> Using cache ${short(layer.digest)}` : ` ---> ${short(layer.digest)}: ${mib(layer.size)} in ${secs(t0)}${note}`);
  for (const w of (cached.meta as { warnings?: string[] }).warnings ?? []) say(` ---> warning: ${w}`);
  const initrd = join(cached.dir, 'initrd');
  // What the unpacked tree holds in the guest, from the entries (stat only: cheap on a warm build).
  const resident = await residentBytes(plan.entries);
  return { layer, initrd, ...(disk !== undefined && { disk }), cloneable: rootDisk && modules.template !== undefined, resident, entrypoint: entry, args, env, ...(user !== undefined && { user }), ...(volumeKinds !== undefined && { volumeKinds }) };
}

/** Concatenate files into `out` (gzip members one after the other: the kernel and gunzip read them all). */
async function concatFiles(parts: string[], out: string): Promise<void> {
  const sink = createWriteStream(out, { mode: 0o644 });
  try {
    for (const part of parts) await pipeline(createReadStream(part), sink, { end: false });
  } catch (err) {
    sink.destroy(); // { end: false } leaves the sink open on an error: close it
    throw err;
  }
  sink.end();
  await finished(sink);
}

/** Image env overridden key by key by the Cunikfile's. */
function mergeEnv(base: string[], over: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...over]) out.set(e.split('=')[0]!, e);
  return [...out.values()];
}

/** The OCI image config, reused from the cache when nothing changed (so the image id is stable). */
async function imageConfig(
  spec: BuildSpec, kernel: KernelStep, layers: PrebuiltLayer[], entrypoint: string[] | undefined, cache: BuildCache, minMemoryMiB: number | undefined,
  rootDisk = false,
): Promise<string> {
  const labels: Record<string, string> = {
    ...spec.labels,
    [LABEL.family]: spec.family,
    [LABEL.boot]: kernel.boot,
    [LABEL.args]: JSON.stringify(spec.args),
    [LABEL.memory]: String(spec.memoryMiB ?? Math.max(defaultMemoryMiB(kernel.boot), minMemoryMiB ?? 0)),
    [LABEL.cpus]: String(spec.cpus ?? DEFAULT_CPUS),
  };
  if (spec.ports.length > 0) labels[LABEL_PORTS] = JSON.stringify(spec.ports);
  if (spec.volumes.length > 0) labels[LABEL_VOLUMES] = JSON.stringify(spec.volumes);
  if (spec.health !== undefined) labels[HEALTH_LABEL] = JSON.stringify(spec.health);
  // What `cunik import` records for a Solo5 unikernel too: its declared devices, and its block devices
  // as volumes beside the Cunikfile's; for a Unikraft kernel, its linked libraries.
  if (spec.family === 'solo5' || spec.family === 'unikraft') {
    const facts = importLabels({ family: spec.family, kernel: kernel.file, boot: kernel.boot });
    const declared = facts[LABEL_VOLUMES];
    if (declared !== undefined) facts[LABEL_VOLUMES] = JSON.stringify([...new Set([...spec.volumes, ...(JSON.parse(declared) as string[])])]);
    Object.assign(labels, facts);
  }
  if (kernel.release !== undefined) labels[LABEL_KERNEL_RELEASE] = kernel.release;
  if (minMemoryMiB !== undefined) labels[LABEL_MEMORY_MIN] = String(minMemoryMiB);
  if (rootDisk) labels[LABEL_ROOTFS] = 'disk';
  // The initramfs runs cunik-init, which reads the image's env from /.cunik/env (families/linux.ts).
  if (entrypoint !== undefined) labels[LABEL_INIT] = 'cunik';

  // On microvm without a PIT the kernel hangs calibrating the TSC unless it is told the frequency
  // (families/linux.ts): record the build host's, where the image is built to run, unless the
  // Cunikfile gives one. An instance's own tscKhz, when the daemon passes it, comes first.
  const khz = hostTscKhz();
  if (spec.family === 'linux' && labels[LABEL_TSC_KHZ] === undefined && khz !== undefined) labels[LABEL_TSC_KHZ] = String(khz);
  const inner = {
    Labels: labels,
    Env: spec.env,
    ...(spec.user !== undefined && { User: spec.user }),
    ...(entrypoint !== undefined && { Entrypoint: entrypoint }),
    Cmd: spec.args,
    ...(spec.ports.length > 0 && { ExposedPorts: Object.fromEntries(spec.ports.map((p) => [p, {}])) }),
    ...(spec.volumes.length > 0 && { Volumes: Object.fromEntries(spec.volumes.map((v) => [v, {}])) }),
    ...(spec.stopSignal !== undefined && { StopSignal: spec.stopSignal }),
    ...(spec.stopTimeout !== undefined && { StopTimeout: spec.stopTimeout }),
  };
  // cunik/boot.json, from the same labels and env (images/boot-file.ts), in a layer of its own.
  const files = { kernel: true, initrd: layers.length > 1, disk: rootDisk };
  layers.push(await bootFileLayer(cache, bootFile(labels, spec.env, files)));
  const key = digestOf({ step: 'config', v: BUILDER_VERSION, inner, layers: layers.map((l) => [l.digest, l.diffId]) });
  const { created } = (await cache.get(key, false, async () => ({ created: new Date().toISOString() }))).meta;
  return JSON.stringify({
    created,
    architecture: 'amd64',
    os: 'linux',
    config: inner,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l, i) => ({
      created,
      created_by: i === 0 ? 'cunik build: kernel' : i === layers.length - 1 ? `cunik build: ${BOOT_FILE}` : rootDisk && i === 1 ? 'cunik build: root disk' : 'cunik build: initramfs',
      comment: short(l.digest),
    })),
  });
}

/** The layer holding cunik/boot.json, cached by its bytes (an unchanged build reuses it). */
async function bootFileLayer(cache: BuildCache, body: Buffer): Promise<PrebuiltLayer> {
  const key = digestOf({ step: 'boot-file', v: BUILDER_VERSION, body: body.toString('utf8') });
  const entry = await cache.get(key, false, async (dir) => {
    const file = join(dir, 'boot.json');
    writeFileSync(file, body, { mode: 0o644 });
    return { layer: await writeLayer([[BOOT_FILE, file]], join(dir, 'layer'), false) };
  });
  return { ...entry.meta.layer, path: join(entry.dir, 'layer') };
}
