// An OCI bundle as containerd hands it to cunik-runc create: its config.json (untrusted: it comes
// from an image and a pod spec) and whether its root filesystem is a unikernel, from the same
// boot facts the image store reads (images/boot-file.ts for Cunik's cunik/boot.json,
// images/foreign.ts for urunc's annotations or /urunc.json, KraftKit's kernel path). docs/kubernetes.md.
import { closeSync, lstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import { invalid } from '../errors.js';
import type { ImageBootInfo } from '../families/types.js';
import { BOOT_FILE, BOOT_FILE_MAX, parseBootFile } from '../images/boot-file.js';
import { KRAFTKIT, LABEL_IMAGE_FORMAT, parseUruncJson, URUNC_JSON, URUNC_JSON_MAX, uruncAnnotations, uruncImage } from '../images/foreign.js';
import { detectKernelFormatFile } from '../images/kernel-format.js';
import { cunikMeta, LAYER_FILES, type ImageConfig, type Manifest } from '../images/oci.js';

/** The parts of an OCI runtime spec cunik-runc reads. */
export interface RuntimeSpec {
  args: string[];
  env: string[];
  terminal: boolean;
  rootfs: string;
  annotations: Record<string, string>;
  /** The network namespace to join: a path (CNI's), 'new' (the spec asks for a fresh one), or undefined (the host's). */
  netns: string | 'new' | undefined;
  /** linux.resources: the guest's RAM (the memory limit less QEMU's allowance) and the CPUs a quota allows, when set. */
  memoryMiB?: number;
  cpus?: number;
  /** linux.cgroupsPath as given (cgroup.ts reads it), and the limits its cgroup gets. */
  cgroupsPath?: string;
  memoryLimit?: number;
  cpuQuota?: { quota: number; period: number };
}

/**
 * What QEMU itself takes beside the guest's RAM (its code, TCG's translations, device state):
 * the task's cgroup is limited to linux.resources.memory.limit, so the guest gets that less this.
 */
export const VMM_ALLOWANCE_MIB = 32;
/** The smallest guest RAM a memory limit may leave. */
const MIN_GUEST_MIB = 16;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown, what: string): string[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(`config.json: ${what} must be an array of strings`);
  return v as string[];
};

/** config.json of a bundle, checked for the fields used. */
export function parseRuntimeSpec(raw: string, bundle: string): RuntimeSpec {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (err) {
    throw invalid(`config.json of bundle ${bundle} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw invalid(`config.json of bundle ${bundle} is not an object`);
  const process = isObj(doc['process']) ? doc['process'] : {};
  const root = isObj(doc['root']) ? doc['root'] : {};
  const rootPath = typeof root['path'] === 'string' && root['path'] !== '' ? root['path'] : 'rootfs';
  const annotations: Record<string, string> = {};
  if (isObj(doc['annotations'])) for (const [k, v] of Object.entries(doc['annotations'])) if (typeof v === 'string') annotations[k] = v;
  const linux = isObj(doc['linux']) ? doc['linux'] : {};
  let netns: RuntimeSpec['netns'];
  for (const ns of Array.isArray(linux['namespaces']) ? linux['namespaces'] : []) {
    if (!isObj(ns) || ns['type'] !== 'network') continue;
    const path = ns['path'];
    if (path === undefined || path === '') netns = 'new';
    else if (typeof path === 'string' && isAbsolute(path) && !path.includes('\0')) netns = path;
    else throw invalid('config.json: the network namespace path must be absolute');
  }
  const spec: RuntimeSpec = {
    args: strings(process['args'], 'process.args'),
    env: strings(process['env'], 'process.env'),
    terminal: process['terminal'] === true,
    rootfs: isAbsolute(rootPath) ? rootPath : join(bundle, rootPath),
    annotations,
    netns,
  };
  const res = isObj(linux['resources']) ? linux['resources'] : {};
  const mem = isObj(res['memory']) ? res['memory']['limit'] : undefined;
  if (typeof mem === 'number' && Number.isSafeInteger(mem) && mem > 0) {
    const guest = Math.floor(mem / 1048576) - VMM_ALLOWANCE_MIB;
    if (guest < MIN_GUEST_MIB) throw invalid(`config.json: a memory limit of ${mem} bytes leaves no room for a VM: it needs at least ${MIN_GUEST_MIB + VMM_ALLOWANCE_MIB} MiB (the guest's RAM and ${VMM_ALLOWANCE_MIB} MiB for QEMU)`);
    spec.memoryMiB = guest;
    spec.memoryLimit = mem;
  }
  const cpu = isObj(res['cpu']) ? res['cpu'] : {};
  const quota = cpu['quota'];
  const period = typeof cpu['period'] === 'number' ? cpu['period'] : 100000;
  if (typeof quota === 'number' && Number.isSafeInteger(quota) && Number.isSafeInteger(period) && quota > 0 && period > 0) {
    spec.cpus = Math.max(1, Math.ceil(quota / period));
    spec.cpuQuota = { quota, period };
  }
  const cg = linux['cgroupsPath'];
  if (cg !== undefined && cg !== null) {
    if (typeof cg !== 'string' || cg.includes('\0')) throw invalid('config.json: linux.cgroupsPath must be a string');
    if (cg !== '') spec.cgroupsPath = cg;
  }
  return spec;
}

/**
 * A file of the root filesystem, which must be a regular file that resolves inside it (a symlink
 * to a host file would hand that file to the guest: QEMU runs as root here).
 */
export function rootfsFile(rootfs: string, rel: string, what: string): string {
  const root = realpathSync(rootfs);
  let real: string;
  try {
    real = realpathSync(join(root, rel));
  } catch {
    throw invalid(`${what}: the image has no ${rel}`);
  }
  if (!real.startsWith(root + sep)) throw invalid(`${what}: ${rel} points outside the image's root filesystem`);
  if (!lstatSync(real).isFile()) throw invalid(`${what}: ${rel} must be a regular file`);
  return real;
}

function readSmall(path: string, max: number, what: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(max + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > max) throw invalid(`${what} is larger than ${max} bytes`);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const exists = (root: string, rel: string): boolean => lstatSync(join(root, rel), { throwIfNoEntry: false }) !== undefined;

/**
 * The unikernel in a bundle's root filesystem, as the family adapters take it, or undefined when it
 * is not one (a pause container, a sidecar: those go to the real runc). `name` is argv[0] for
 * multiboot guests (containerd's id is a poor one: the image's name is not in the bundle).
 */
export function bundleBootInfo(spec: RuntimeSpec, what: string): ImageBootInfo | undefined {
  const root = spec.rootfs;
  let labels: Record<string, string>;
  let env: string[] = [];
  let files: { kernel?: string; initrd?: string; disk?: string };
  if (exists(root, BOOT_FILE)) {
    const file = parseBootFile(readSmall(rootfsFile(root, BOOT_FILE, what), BOOT_FILE_MAX, `${what}: ${BOOT_FILE}`), `${what}: ${BOOT_FILE}`);
    labels = file.labels;
    env = file.env;
    files = { ...(file.kernel !== undefined && { kernel: file.kernel }), ...(file.initrd !== undefined && { initrd: file.initrd }), ...(file.disk !== undefined && { disk: file.disk }) };
  } else {
    // urunc's markers: annotations (CRI passes the pod's), else the file bunny writes.
    let ann = uruncAnnotations(spec.annotations);
    if (Object.keys(ann).length === 0 && exists(root, URUNC_JSON)) {
      ann = parseUruncJson(readSmall(rootfsFile(root, URUNC_JSON, what), URUNC_JSON_MAX, `${what}: /${URUNC_JSON}`), what);
    }
    const config = { config: { Cmd: spec.args } } as unknown as ImageConfig;
    let foreign = uruncImage(ann, config, what);
    // KraftKit's package: its kernel at the well-known path (its annotations stay in the
    // manifest, which no bundle has); the process args are its Cmd, the app's arguments.
    if (foreign === undefined && exists(root, KRAFTKIT.kernelPath)) {
      foreign = {
        format: 'kraftkit',
        labels: { 'org.cunik.family': 'unikraft', 'org.cunik.args': JSON.stringify(spec.args), [LABEL_IMAGE_FORMAT]: 'kraftkit' },
        files: { kernel: KRAFTKIT.kernelPath, ...(exists(root, KRAFTKIT.initrdPath) && { initrd: KRAFTKIT.initrdPath }) },
        optional: [],
      };
    }
    if (foreign === undefined) return undefined;
    const kernel = rootfsFile(root, foreign.files.kernel, what);
    labels = { ...foreign.labels, 'org.cunik.boot': detectKernelFormatFile(kernel).boot };
    files = { kernel: foreign.files.kernel, ...(foreign.files.initrd !== undefined && { initrd: foreign.files.initrd }) };
  }
  const meta = cunikMeta({ config: { Labels: labels, Env: env } } as unknown as ImageConfig, { annotations: {} } as unknown as Manifest, what);
  const info: ImageBootInfo = {
    family: meta.family,
    name: 'app',
    boot: meta.boot,
    args: meta.args,
    env: meta.env,
    memoryMiB: meta.memoryMiB,
    cpus: meta.cpus,
    labels: meta.labels,
  };
  if (files.kernel !== undefined) info.kernelPath = rootfsFile(root, files.kernel, what);
  if (files.initrd !== undefined) info.initrdPath = rootfsFile(root, files.initrd, what);
  if (files.disk !== undefined) info.diskPath = rootfsFile(root, files.disk, what);
  else if (meta.boot === 'disk' && info.kernelPath !== undefined && files.kernel === LAYER_FILES.kernel) info.diskPath = info.kernelPath;
  return info;
}

/**
 * What the task's process asks beyond the image's defaults: its args (containerd's spec has the
 * image's Cmd, or what `ctr run IMAGE ID ARGS` gave) and the env entries the image did not set,
 * less containerd's default PATH (a unikernel has no PATH).
 */
export function taskArgsEnv(spec: RuntimeSpec, boot: ImageBootInfo): { args: string[]; env: string[] } {
  const imageEnv = new Set(boot.env);
  const env = spec.env.filter((e) => !imageEnv.has(e) && !e.startsWith('PATH='));
  // Another tool's image: its args were mapped from these process args already (urunc's argv[0] dropped).
  if (boot.labels[LABEL_IMAGE_FORMAT] !== undefined) return { args: [], env };
  const same = spec.args.length === boot.args.length && spec.args.every((a, i) => a === boot.args[i]);
  return { args: same ? [] : spec.args, env };
}
