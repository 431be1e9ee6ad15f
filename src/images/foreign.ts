// Images made by other unikernel tools, mapped to the facts a Cunik image carries in its org.cunik.*
// labels, so they boot through the same family adapters (docs/images.md, "Images from other tools").
// Pure functions over untrusted documents: every value is type-checked, bounded, and a path must
// name a file inside the image's layers.
//
// - KraftKit (`kraft pkg`, kraftkit.sh/oci): the kernel is the layer file unikraft/bin/kernel (the
//   layer's descriptor annotated org.unikraft.kernel.image with that path), an initrd is
//   unikraft/bin/initrd (org.unikraft.kernel.initrd); the manifest carries org.unikraft.image.name,
//   org.unikraft.kernel.version and sh.kraftkit.version; the config's os is the Unikraft platform
//   (qemu, fc, xen...) and its architecture Unikraft's (x86_64); Cmd holds the application's
//   arguments (KraftKit writes them after "--"), Env the environment (env.vars).
// - urunc (bunny, bunix): com.urunc.unikernel.* annotations on the manifest and as config labels,
//   with plain values, and the same keys in /urunc.json in the root filesystem with base64 values
//   (urunc's pkg/unikontainers/config.go reads the file when the annotations do not reach it).
//   urunc takes the app's argv from the container's process args (Entrypoint + Cmd), else the
//   cmdline annotation split at blanks (pkg/unikontainers/unikontainers.go).

import { invalid } from '../errors.js';
import { LABEL, isHostArchitecture, type ImageConfig, type Manifest } from './oci.js';

/** What a foreign image maps to: the labels of the equivalent Cunik image, and where its files are. */
export interface ForeignImage {
  /** The tool whose layout it is, kept as the label org.cunik.image-format. */
  format: 'kraftkit' | 'urunc';
  /** org.cunik.* labels: family, args, and family facts (the boot protocol comes from the kernel file). */
  labels: Record<string, string>;
  /** Root-relative clean paths of the boot files in the layers. */
  files: { kernel: string; initrd?: string };
  /** Files that may be absent (KraftKit's well-known initrd). */
  optional: ('initrd')[];
}

export const LABEL_IMAGE_FORMAT = 'org.cunik.image-format';

export const KRAFTKIT = {
  kernelAnnotation: 'org.unikraft.kernel.image',
  initrdAnnotation: 'org.unikraft.kernel.initrd',
  versionAnnotation: 'org.unikraft.kernel.version',
  kernelPath: 'unikraft/bin/kernel',
  initrdPath: 'unikraft/bin/initrd',
} as const;

export const URUNC_PREFIX = 'com.urunc.unikernel.';
export const URUNC_JSON = 'urunc.json';
export const URUNC_JSON_MAX = 64 * 1024;
const VALUE_MAX = 4096;
const PATH_MAX = 1024;

/** urunc's unikernel types and the Cunik family each boots as on QEMU. */
const URUNC_FAMILIES: Record<string, string> = { unikraft: 'unikraft', rumprun: 'rumprun', mirage: 'solo5' };
/** Types urunc knows that Cunik cannot run, and why. */
const URUNC_UNSUPPORTED: Record<string, string> = {
  linux: 'urunc starts a Linux guest\'s own init (rdinit=APP), which Cunik\'s linux family does not do: build it with cunik build',
  mewz: 'Cunik has no family for Mewz',
};
/** Monitors: QEMU itself, or Firecracker (a KVM guest QEMU also boots). Solo5's tenders run other binaries. */
const URUNC_MONITORS = new Set(['qemu', 'firecracker']);
const SOLO5_TENDERS = new Set(['hvt', 'spt']);

/** Unikraft platforms built for a KVM machine QEMU provides; fc/xen/linuxu kernels boot elsewhere only. */
const KRAFTKIT_PLATFORMS = new Set(['qemu', 'kvm']);

/**
 * A path inside the image's root filesystem, as a tool wrote it ("/unikernel/kernel"), to the clean
 * root-relative name tar entries have. "..", NUL, backslashes and empty names are refused.
 */
export function rootfsPath(raw: unknown, what: string): string {
  if (typeof raw !== 'string' || raw === '') throw invalid(`${what} must be a path in the image, got ${JSON.stringify(raw)}`);
  if (raw.length > PATH_MAX) throw invalid(`${what} is longer than ${PATH_MAX} characters`);
  if (/[\0\\]/.test(raw) || /[\x00-\x1f]/.test(raw)) throw invalid(`${what} ${JSON.stringify(raw)} has a control character or backslash`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalid(`${what} ${JSON.stringify(raw)} points outside the image's root filesystem (..)`);
  if (parts.length === 0) throw invalid(`${what} ${JSON.stringify(raw)} names the root directory, not a file`);
  return parts.join('/');
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringArray(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(`${what} must be an array of strings`);
  return v as string[];
}

/** Whether a manifest is KraftKit's: a layer annotated as the Unikraft kernel, or KraftKit's own annotations. */
export function isKraftKitImage(manifest: Manifest): boolean {
  if (manifest.layers.some((l) => l.annotations?.[KRAFTKIT.kernelAnnotation] !== undefined)) return true;
  return Object.keys(manifest.annotations ?? {}).some((k) => k === 'sh.kraftkit.version' || k.startsWith('org.unikraft.'));
}

/** A KraftKit package's facts; undefined when the manifest is not KraftKit's. */
export function kraftkitImage(config: ImageConfig, manifest: Manifest, what: string): ForeignImage | undefined {
  if (!isKraftKitImage(manifest)) return undefined;
  const os = (config as { os?: unknown }).os;
  const arch = (config as { architecture?: unknown }).architecture;
  if (typeof arch === 'string' && arch !== '' && !isHostArchitecture(arch)) {
    throw invalid(`${what}: a KraftKit image for ${JSON.stringify(arch)}; Cunik runs x86_64 (amd64) kernels`);
  }
  if (typeof os === 'string' && os !== '' && !KRAFTKIT_PLATFORMS.has(os)) {
    throw invalid(`${what}: a KraftKit image for the Unikraft platform ${JSON.stringify(os)}; Cunik boots kernels built for qemu (kvm)`);
  }
  const annotated = (key: string): string | undefined => {
    const found = manifest.layers.map((l) => l.annotations?.[key]).filter((v): v is string => v !== undefined);
    if (found.length > 1) throw invalid(`${what}: ${found.length} layers are annotated ${key}`);
    return found[0];
  };
  const kernelAnn = annotated(KRAFTKIT.kernelAnnotation);
  const initrdAnn = annotated(KRAFTKIT.initrdAnnotation);
  const kernel = kernelAnn !== undefined ? rootfsPath(kernelAnn, `${what}: annotation ${KRAFTKIT.kernelAnnotation}`) : KRAFTKIT.kernelPath;
  const initrd = initrdAnn !== undefined ? rootfsPath(initrdAnn, `${what}: annotation ${KRAFTKIT.initrdAnnotation}`) : KRAFTKIT.initrdPath;
  const args = stringArray(config.config?.Cmd, `${what}: config Cmd`);
  const labels: Record<string, string> = {
    [LABEL.family]: 'unikraft',
    [LABEL.args]: JSON.stringify(args),
    [LABEL_IMAGE_FORMAT]: 'kraftkit',
  };
  const version = manifest.annotations?.[KRAFTKIT.versionAnnotation];
  if (version !== undefined && /^[0-9A-Za-z.+~-]{1,64}$/.test(version)) labels['org.cunik.unikraft.version'] = version;
  return { format: 'kraftkit', labels, files: { kernel, initrd }, optional: initrdAnn === undefined ? ['initrd'] : [] };
}

/** The com.urunc.unikernel.* entries of a string map (manifest annotations, config labels). */
export function uruncAnnotations(...maps: (Record<string, string> | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of maps) for (const [k, v] of Object.entries(m ?? {})) if (k.startsWith(URUNC_PREFIX) && out[k] === undefined) out[k] = v;
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** /urunc.json: an object of com.urunc.unikernel.* keys whose values are base64-encoded strings. */
export function parseUruncJson(buf: Buffer, what: string): Record<string, string> {
  if (buf.length > URUNC_JSON_MAX) throw invalid(`${what}: /${URUNC_JSON} is larger than ${URUNC_JSON_MAX} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw invalid(`${what}: /${URUNC_JSON} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw invalid(`${what}: /${URUNC_JSON} must be a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (!k.startsWith(URUNC_PREFIX)) continue;
    if (typeof v !== 'string') throw invalid(`${what}: /${URUNC_JSON} ${k} must be a base64 string`);
    if (!BASE64.test(v)) throw invalid(`${what}: /${URUNC_JSON} ${k} is not base64`);
    try {
      out[k] = utf8.decode(Buffer.from(v, 'base64'));
    } catch {
      throw invalid(`${what}: /${URUNC_JSON} ${k} is not base64 of UTF-8 text`);
    }
  }
  return out;
}

/**
 * An urunc image's facts from its annotations (plain values, already decoded for urunc.json);
 * undefined when it has none. `config` gives the process args urunc prefers over the cmdline.
 */
export function uruncImage(ann: Record<string, string>, config: ImageConfig, what: string): ForeignImage | undefined {
  const get = (key: string): string | undefined => {
    const v = ann[URUNC_PREFIX + key];
    if (v === undefined || v === '') return undefined;
    if (v.length > VALUE_MAX) throw invalid(`${what}: ${URUNC_PREFIX}${key} is longer than ${VALUE_MAX} characters`);
    return v;
  };
  if (!Object.keys(ann).some((k) => k.startsWith(URUNC_PREFIX))) return undefined;
  const type = get('unikernelType');
  if (type === undefined) throw invalid(`${what}: urunc annotations without ${URUNC_PREFIX}unikernelType`);
  const family = URUNC_FAMILIES[type];
  if (family === undefined) {
    const why = URUNC_UNSUPPORTED[type];
    throw invalid(`${what}: urunc unikernel type ${JSON.stringify(type)} ${why !== undefined ? `is not supported: ${why}` : `is unknown (known: ${[...Object.keys(URUNC_FAMILIES), ...Object.keys(URUNC_UNSUPPORTED)].join(', ')})`}`);
  }
  const monitor = get('hypervisor');
  if (monitor === undefined) throw invalid(`${what}: urunc annotations without ${URUNC_PREFIX}hypervisor`);
  if (SOLO5_TENDERS.has(monitor)) {
    throw invalid(`${what}: a ${type} unikernel for Solo5's ${monitor} tender; Cunik boots Solo5's virtio target on QEMU (hypervisor qemu)`);
  }
  if (!URUNC_MONITORS.has(monitor)) throw invalid(`${what}: urunc hypervisor ${JSON.stringify(monitor)} is unknown (Cunik runs images for qemu or firecracker)`);
  const binary = get('binary');
  if (binary === undefined) throw invalid(`${what}: urunc annotations without ${URUNC_PREFIX}binary`);
  const kernel = rootfsPath(binary, `${what}: ${URUNC_PREFIX}binary`);
  const initrdRaw = get('initrd');
  const initrd = initrdRaw !== undefined ? rootfsPath(initrdRaw, `${what}: ${URUNC_PREFIX}initrd`) : undefined;
  if (get('block') !== undefined) {
    throw invalid(`${what}: urunc's block image (${URUNC_PREFIX}block) is not supported yet; give the data as a volume (cunik run -v)`);
  }
  for (const key of ['useDMBlock', 'mountRootfs']) {
    if (get(key)?.toLowerCase() === 'true') throw invalid(`${what}: ${URUNC_PREFIX}${key}=true (the container's root filesystem as the guest's disk) is not supported`);
  }
  // urunc's argv: the process args (Entrypoint + Cmd) when there are any, else the cmdline at blanks.
  const processArgs = [...stringArray(config.config?.Entrypoint, `${what}: config Entrypoint`), ...stringArray(config.config?.Cmd, `${what}: config Cmd`)];
  const argv = processArgs.length > 0 ? processArgs : (get('cmdline') ?? '').split(/\s+/).filter((w) => w !== '');
  // Unikraft and Rumprun take argv[0] as the program's name: Cunik puts the image's name there
  // (BootSpec.kernelName, the rumprun adapter's cmdline), so the first word is not an argument.
  // Mirage's command line is its arguments only.
  const args = family === 'solo5' ? argv : argv.slice(1);
  const labels: Record<string, string> = {
    [LABEL.family]: family,
    [LABEL.args]: JSON.stringify(args),
    [LABEL_IMAGE_FORMAT]: 'urunc',
  };
  const version = get('unikernelVersion');
  if (family === 'unikraft' && version !== undefined && /^v?[0-9A-Za-z.+~-]{1,64}$/.test(version)) labels['org.cunik.unikraft.version'] = version.replace(/^v/, '');
  return { format: 'urunc', labels, files: { kernel, ...(initrd !== undefined && { initrd }) }, optional: [] };
}
