// OCI image-spec shapes (manifest, config, index, descriptor) as far as Cunik uses them,
// their media types, the org.cunik.* label keys, and checks for documents read from outside.

import { invalid } from '../errors.js';
import { inRange, LIMITS, rangeText, type Range } from '../api/limits.js';
import { BOOT_PROTOCOLS, type BootProtocol } from './kernel-format.js';

export const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerTar: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerTar: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

export const LABEL = {
  family: 'org.cunik.family',
  boot: 'org.cunik.boot',
  args: 'org.cunik.args',
  memory: 'org.cunik.memory',
  cpus: 'org.cunik.cpus',
} as const;

/** The stop signals an image may carry (instances/signals.ts: STOP_SIGNALS says what each does). */
export const VM_STOP_SIGNALS: readonly string[] = ['SIGTERM', 'SIGINT', 'SIGPWR', 'SIGKILL'];

/** MiB below which the image's guest cannot boot (build/linux/footprint.ts measures it); instances refuse less. */
export const LABEL_MEMORY_MIN = 'org.cunik.memory.min';

/** Where the boot artefacts live inside an image layer. */
export const LAYER_FILES = { kernel: 'cunik/kernel', initrd: 'cunik/initrd', disk: 'cunik/disk.img' } as const;

export const ARCHITECTURE = 'amd64';
export const OS = 'linux';
/** Names of this host's architecture in image platforms: OCI's amd64, and KraftKit's x86_64 (unikraft/arch). */
export const isHostArchitecture = (a: string | undefined): boolean => a === ARCHITECTURE || a === 'x86_64';
/** Unikernel platforms (KraftKit's index entries) that Cunik's QEMU boots: Unikraft's KVM platform built for QEMU. */
const QEMU_PLATFORMS: ReadonlySet<string> = new Set(['qemu', 'kvm']);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string };
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  created?: string;
  architecture: string;
  os: string;
  config?: { Labels?: Record<string, string>; Env?: string[]; Cmd?: string[] | null; Entrypoint?: string[] | null; StopSignal?: string; StopTimeout?: number };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

/** What Cunik reads from an image config to boot it. */
export interface CunikMeta {
  family: string;
  boot: BootProtocol;
  args: string[];
  env: string[];
  memoryMiB: number;
  cpus: number;
  labels: Record<string, string>;
  /** The config's StopSignal, kept when it is one a VM honours (instances/signals.ts: STOP_SIGNALS). */
  stopSignal?: string;
  /** The config's StopTimeout (seconds), kept when within LIMITS.stopTimeoutSeconds. */
  stopTimeout?: number;
}

export const DEFAULT_CPUS = 1;

/** Default guest memory when the image does not say: a Linux kernel with an initramfs needs more. */
export function defaultMemoryMiB(boot: BootProtocol): number {
  return boot === 'linux' ? 256 : 64;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrMap = (v: unknown): v is Record<string, string> =>
  isObj(v) && Object.values(v).every((x) => typeof x === 'string');

export function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw invalid(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

export function checkDescriptor(v: unknown, what: string): Descriptor {
  if (!isObj(v) || typeof v.mediaType !== 'string' || typeof v.digest !== 'string' || typeof v.size !== 'number') {
    throw invalid(`${what}: malformed descriptor (needs mediaType, digest, size)`);
  }
  if (!DIGEST_RE.test(v.digest)) throw invalid(`${what}: unsupported digest ${JSON.stringify(v.digest)} (only sha256 is supported)`);
  if (!Number.isSafeInteger(v.size) || v.size < 0) throw invalid(`${what}: bad size ${v.size}`);
  if (v.annotations !== undefined && !isStrMap(v.annotations)) throw invalid(`${what}: annotations must map strings to strings`);
  return v as unknown as Descriptor;
}

export function checkIndex(v: unknown, what: string): ImageIndex {
  if (!isObj(v) || v.schemaVersion !== 2 || !Array.isArray(v.manifests)) {
    throw invalid(`${what}: not an OCI image index (needs schemaVersion 2 and manifests)`);
  }
  v.manifests.forEach((d, i) => checkDescriptor(d, `${what} manifests[${i}]`));
  return v as unknown as ImageIndex;
}

export function checkManifest(v: unknown, what: string): Manifest {
  if (!isObj(v) || v.schemaVersion !== 2 || !Array.isArray(v.layers)) {
    throw invalid(`${what}: not an image manifest (needs schemaVersion 2, config and layers)`);
  }
  checkDescriptor(v.config, `${what} config`);
  v.layers.forEach((d, i) => checkDescriptor(d, `${what} layers[${i}]`));
  if (v.annotations !== undefined && !isStrMap(v.annotations)) throw invalid(`${what}: annotations must map strings to strings`);
  return v as unknown as Manifest;
}

export function checkConfig(v: unknown, what: string): ImageConfig {
  if (!isObj(v) || !isObj(v.rootfs) || !Array.isArray(v.rootfs.diff_ids)) {
    throw invalid(`${what}: not an image config (needs rootfs.diff_ids)`);
  }
  for (const d of v.rootfs.diff_ids) {
    if (typeof d !== 'string' || !DIGEST_RE.test(d)) throw invalid(`${what}: unsupported diff_id ${JSON.stringify(d)}`);
  }
  if (v.config !== undefined && v.config !== null) {
    if (!isObj(v.config)) throw invalid(`${what}: config must be an object`);
    const c = v.config;
    if (c.Labels !== undefined && c.Labels !== null && !isStrMap(c.Labels)) throw invalid(`${what}: Labels must map strings to strings`);
    if (c.Env !== undefined && c.Env !== null && !(Array.isArray(c.Env) && c.Env.every((e) => typeof e === 'string'))) {
      throw invalid(`${what}: Env must be an array of strings`);
    }
  }
  return v as unknown as ImageConfig;
}

function labelInt(v: string | undefined, what: string, range: Range): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
  if (!inRange(n, range)) throw invalid(`${what} must be a whole number ${rangeText(range)}, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Read the org.cunik.* labels (config labels first, manifest annotations as a fallback).
 * Throws invalid(...) naming the image when they are missing or malformed.
 */
export function cunikMeta(config: ImageConfig, manifest: Manifest, what: string, derived?: Record<string, string>): CunikMeta {
  // An image made by another tool: its org.cunik.* facts were mapped from that tool's layout (images/foreign.ts).
  const labels: Record<string, string> = { ...(config.config?.Labels ?? {}), ...derived };
  const ann = manifest.annotations ?? {};
  for (const k of Object.values(LABEL)) {
    if (labels[k] === undefined && ann[k] !== undefined) labels[k] = ann[k];
  }
  const family = labels[LABEL.family];
  if (!family) {
    throw invalid(`${what} is not a Cunik image: no ${LABEL.family} label in its config or manifest annotations (nor a KraftKit or urunc image)`);
  }
  const boot = labels[LABEL.boot];
  if (!boot || !(BOOT_PROTOCOLS as readonly string[]).includes(boot)) {
    throw invalid(`${what}: label ${LABEL.boot} must be one of ${BOOT_PROTOCOLS.join(', ')}, got ${JSON.stringify(boot ?? '')}`);
  }
  let args: string[] = [];
  const rawArgs = labels[LABEL.args];
  if (rawArgs !== undefined && rawArgs !== '') {
    let parsed: unknown;
    try { parsed = JSON.parse(rawArgs); } catch { parsed = undefined; }
    if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
      throw invalid(`${what}: label ${LABEL.args} must be a JSON array of strings`);
    }
    args = parsed;
  } else if (Array.isArray(config.config?.Cmd)) {
    args = config.config.Cmd.filter((a): a is string => typeof a === 'string');
  }
  const bootP = boot as BootProtocol;
  return {
    family,
    boot: bootP,
    args,
    env: [...(config.config?.Env ?? [])],
    memoryMiB: labelInt(labels[LABEL.memory], `${what}: label ${LABEL.memory}`, LIMITS.memoryMiB) ?? defaultMemoryMiB(bootP),
    cpus: labelInt(labels[LABEL.cpus], `${what}: label ${LABEL.cpus}`, LIMITS.cpus) ?? DEFAULT_CPUS,
    labels,
    ...stopSettings(config.config),
  };
}

/**
 * The image's stop settings, as Docker's image config carries them. A StopSignal no VM honours
 * (an nginx image's SIGQUIT) is not kept: such an image stops as any other, by the power button.
 */
function stopSettings(c: ImageConfig['config']): Pick<CunikMeta, 'stopSignal' | 'stopTimeout'> {
  const sig = typeof c?.StopSignal === 'string' ? c.StopSignal.toUpperCase().replace(/^(?!SIG)/, 'SIG') : undefined;
  const t = c?.StopTimeout;
  return {
    ...(sig !== undefined && VM_STOP_SIGNALS.includes(sig) && { stopSignal: sig }),
    ...(typeof t === 'number' && inRange(t, LIMITS.stopTimeoutSeconds) && { stopTimeout: t }),
  };
}

/**
 * The index entry Cunik runs: linux/amd64 (or one with no platform), else an amd64/x86_64 entry of
 * a unikernel platform QEMU runs (KraftKit's qemu or kvm), else any other amd64/x86_64 entry.
 */
export function pickPlatform(manifests: Descriptor[], what: string): Descriptor {
  const images = manifests.filter((m) => isManifestType(m.mediaType));
  const rank = (m: Descriptor): number => {
    if (m.platform === undefined) return 0;
    if (!isHostArchitecture(m.platform.architecture)) return -1;
    if (m.platform.os === OS) return 0;
    return QEMU_PLATFORMS.has(m.platform.os ?? '') ? 1 : 2;
  };
  const chosen = images.filter((m) => rank(m) >= 0).sort((a, b) => rank(a) - rank(b))[0];
  if (chosen !== undefined) return chosen;
  const have = images.map((m) => `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}`);
  throw invalid(`${what} has no image for ${OS}/${ARCHITECTURE}${have.length ? ` (it has ${have.join(', ')})` : ''}`);
}

export const isManifestType = (mt: string | undefined): boolean =>
  mt === MT.manifest || mt === MT.dockerManifest;
export const isIndexType = (mt: string | undefined): boolean => mt === MT.index || mt === MT.dockerList;

/** A layer's compression by its media type (OCI's and Docker's tar layers); undefined: not a layer type read here. */
export function layerCompressionOf(mt: string): 'none' | 'gzip' | 'zstd' | undefined {
  if (mt === MT.layerTar || mt === MT.dockerLayerTar) return 'none';
  if (mt === MT.layerGzip || mt === MT.dockerLayerGzip) return 'gzip';
  if (mt === MT.layerZstd) return 'zstd';
  return undefined;
}

export function layerCompression(mt: string): 'none' | 'gzip' | 'zstd' {
  const kind = layerCompressionOf(mt);
  if (kind === undefined) throw invalid(`unsupported layer media type ${mt}`);
  return kind;
}
