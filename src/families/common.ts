// Helpers shared by the family adapters: resolving args/env/sizing the same way everywhere, the
// guest's network settings, volumes as QEMU devices, the copy-on-write image disk, quoting.
import { invalid } from '../errors.js';
import type { DiskSpec, NicSpec, ShareSpec } from '../vmm/types.js';
import type { ImageBootInfo, InstanceBootConfig, InstanceVolume } from './types.js';

export { machineFor } from './generic.js';

/**
 * argv[0] for guests that read it from their command line (multiboot: QEMU puts the -kernel file
 * name there, BootSpec.kernelName): the image's name when it is a plain file name, else "app".
 * Never a host path: it means nothing in the guest and would show the daemon's layout.
 */
export function programName(image: ImageBootInfo): string {
  const name = image.name;
  return name !== undefined && /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/.test(name) ? name : 'app';
}

/** The ports an image exposes (label org.cunik.ports: ["80/tcp", "53/udp", "8080"]), in order; a label that is not such a list is refused. */
export function imagePorts(labels: Record<string, string>, field: string): { guestPort: number; proto: 'tcp' | 'udp' }[] {
  let exposed: unknown;
  try {
    exposed = JSON.parse(labels['org.cunik.ports'] ?? '[]');
  } catch {
    throw invalid("the image's org.cunik.ports label is not a JSON list of ports", field);
  }
  if (!Array.isArray(exposed)) throw invalid("the image's org.cunik.ports label is not a JSON list of ports", field);
  return exposed.map((e) => {
    const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(String(e));
    if (m === null) throw invalid(`the image exposes ${JSON.stringify(e)}, which is not PORT[/tcp|udp]`, field);
    return { guestPort: Number(m[1]), proto: (m[2] ?? 'tcp') as 'tcp' | 'udp' };
  });
}

/** The instance's args when given, else the image's defaults (Docker's CMD rule). */
export const appArgs = (image: ImageBootInfo, instance: InstanceBootConfig): string[] =>
  instance.args.length > 0 ? [...instance.args] : [...image.args];

/** Image env then instance env as [key, value]; a later key replaces an earlier one in place. */
export function appEnv(image: ImageBootInfo, instance: InstanceBootConfig): [string, string][] {
  const env = new Map<string, string>();
  for (const entry of [...image.env, ...instance.env]) {
    const eq = entry.indexOf('=');
    if (eq < 1) throw invalid(`env entries are KEY=VALUE, got ${JSON.stringify(entry)}`, 'env');
    env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return [...env];
}

export const sizing = (image: ImageBootInfo, instance: InstanceBootConfig): { memoryMiB: number; cpus: number } => ({
  memoryMiB: instance.memoryMiB ?? image.memoryMiB,
  cpus: instance.cpus ?? image.cpus,
});

export function requireFile(path: string | undefined, family: string, what: string): string {
  if (path === undefined) throw invalid(`a ${family} image needs ${what}`, 'image');
  return path;
}

/** Throw INVALID_ARGUMENT when the family cannot do what the instance asks. */
export function refuse(condition: boolean, message: string, field: string): void {
  if (condition) throw invalid(message, field);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export interface StaticIp {
  ip: string;
  prefix: number;
  gateway?: string;
  dns: string[];
}

/** The static IPv4 settings of network `index` (validated), or undefined for DHCP/none. */
export function staticIp(instance: InstanceBootConfig, index = 0): StaticIp | undefined {
  const net = instance.networks?.[index];
  if (net?.ip === undefined) return undefined;
  const field = `networks[${index}]`;
  if (!IPV4.test(net.ip)) throw invalid(`${field}.ip is not an IPv4 address: ${net.ip}`, `${field}.ip`);
  const prefix = net.prefix;
  if (prefix === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw invalid(`${field}.prefix must be 0-32`, `${field}.prefix`);
  for (const a of [net.gateway, ...(net.dns ?? [])]) {
    if (a !== undefined && !IPV4.test(a)) throw invalid(`${field}: not an IPv4 address: ${a}`, field);
  }
  return { ip: net.ip, prefix, ...(net.gateway !== undefined && { gateway: net.gateway }), dns: [...(net.dns ?? [])] };
}

/** 24 → 255.255.255.0 */
export function netmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}

export const nicsOf = (instance: InstanceBootConfig): NicSpec[] => (instance.networks ?? []).map((n) => n.nic);

export function volumesOf(instance: InstanceBootConfig): { blocks: InstanceVolume[]; shares: InstanceVolume[] } {
  const volumes = instance.volumes ?? [];
  volumes.forEach((v, i) => {
    if (!v.target.startsWith('/')) throw invalid(`volumes[${i}].target must be an absolute guest path`, `volumes[${i}].target`);
  });
  return { blocks: volumes.filter((v) => v.kind === 'block'), shares: volumes.filter((v) => v.kind === 'share') };
}

/** The block volumes of a family that cannot share host folders; a folder is refused, saying why. */
export function blockVolumesOnly(instance: InstanceBootConfig, family: string, why = 'block volumes only'): InstanceVolume[] {
  const { blocks, shares } = volumesOf(instance);
  refuse(shares.length > 0, `${family}: folders cannot be shared (${why})`, 'volumes');
  return blocks;
}

/** Block volumes as virtio-blk disks with serial numbers vol0, vol1... */
export const blockDisks = (blocks: InstanceVolume[]): DiskSpec[] =>
  blocks.map((v, i) => ({ path: v.source, format: v.format ?? 'raw', readonly: v.readonly, serial: `vol${i}` }));

/** Share volumes as 9p shares tagged vol0, vol1... */
export const shareSpecs = (shares: InstanceVolume[]): ShareSpec[] =>
  shares.map((v, i) => ({ tag: `vol${i}`, path: v.source, readonly: v.readonly }));

/**
 * For guests that use PCI devices without assigning BARs (Solo5, Unikraft, Rumprun, IncludeOS,
 * Hermit): SeaBIOS instead of qboot when a pc/q35 guest has any device.
 */
export function pciFirmware(machine: string, count: number): { firmware?: 'seabios' } {
  return machine !== 'microvm' && count > 0 ? { firmware: 'seabios' } : {};
}

/** SeaBIOS on pc/q35 whatever the devices: for guests not checked with qboot, as their upstreams run. */
export const seabios = (machine: string): { firmware?: 'seabios' } => (machine !== 'microvm' ? { firmware: 'seabios' } : {});

/** nics and shares for a BootSpec, left out when empty. */
export const devices = (nics: NicSpec[], shares: ShareSpec[] = []): { nics?: NicSpec[]; shares?: ShareSpec[] } => ({
  ...(nics.length > 0 && { nics }),
  ...(shares.length > 0 && { shares }),
});

/** The image's disk behind a per-instance qcow2 overlay in the instance directory (DESIGN.md, "Families"). */
export function imageOverlay(backing: string, backingFormat: 'raw' | 'qcow2', boot: boolean): DiskSpec {
  return { path: 'disk.qcow2', format: 'qcow2', readonly: false, overlay: { backing, backingFormat }, ...(boot && { boot }) };
}

/**
 * POSIX shell quoting: plain words stay as they are, others go in single quotes ('it'"'"'s').
 * Unikraft's uk_argnparse (lib/ukargparse/argparse.c) and Hermit's Shlex split this way.
 */
export function shQuote(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'"'"'`)}'`;
}

/** Refuse args that a whitespace-splitting guest would cut apart. */
export function plainWords(args: string[], family: string, field = 'args'): string[] {
  for (const a of args) refuse(a === '' || /\s/.test(a), `${family} splits its command line at whitespace: ${JSON.stringify(a)} cannot be passed`, field);
  return args;
}
