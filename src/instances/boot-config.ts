// What a family adapter gets for an instance (InstanceBootConfig), built from the record's config,
// the network of this start and host facts. Pure, unit-tested.
import { MAX_EXTRA_NETWORKS, type NetworkEndpoint, type NetworkMode, type NetworkSettings, type PortBinding, type PortRequest } from '../api/schemas.js';
import { isIP } from 'node:net';
import { cpusOverHost } from '../api/limits.js';
import { HOSTNAME_PATTERN } from '../api/rules.js';
import { invalid } from '../errors.js';
import { LABEL_MEMORY_MIN } from '../images/oci.js';
import type { ImageBootInfo, InstanceBootConfig, InstanceNetwork } from '../families/types.js';
import { imagePorts } from '../families/common.js';
import type { Attachment, Endpoint } from '../network/bridge/networks.js';
import { checkMac, DEFAULT_NETWORK, isBridgeMode, parseIp6, PENDING_TAP } from '../network/bridge/spec.js';
import { isDnsName, normalizeName } from '../network/dns/zone.js';
import { normalizePorts } from '../network/ports.js';
import { USER_NET, userNetwork } from '../network/user.js';
import { instanceVolumes, type MountRequest } from '../volumes/mounts.js';
import type { HealthRequest } from './health-spec.js';
import type { InstanceRecord } from './record.js';
import { NO_RESTART, type RestartPolicy } from './restart.js';
import { stopSignal } from './signals.js';

/** What create takes (the API request without transport details). */
export interface CreateOptions {
  image: string;
  name?: string | undefined;
  args?: string[] | undefined;
  env?: string[] | undefined;
  memoryMiB?: number | undefined;
  cpus?: number | undefined;
  /** Allow more vCPUs than the host has CPUs. */
  cpuOvercommit?: boolean | undefined;
  /** run --read-only. */
  readOnly?: boolean | undefined;
  /** run --hostname (the caller gives the short id when the user gives none). */
  hostname?: string | undefined;
  /** run --add-host: NAME:ADDRESS (or NAME=ADDRESS). */
  extraHosts?: string[] | undefined;
  user?: string | undefined;
  workdir?: string | undefined;
  entrypoint?: string | undefined;
  tty?: boolean | undefined;
  expose?: { guestPort: number; proto?: 'tcp' | 'udp' | undefined }[] | undefined;
  dns?: string[] | undefined;
  dnsSearch?: string[] | undefined;
  dnsOptions?: string[] | undefined;
  autoRemove?: boolean | undefined;
  restartPolicy?: { name: RestartPolicy['name']; maximumRetryCount?: number | undefined } | undefined;
  /** Default: the daemon's (create.ts), else 'user'. */
  network?: NetworkMode | undefined;
  /** A fixed address on a bridge network (run --ip). */
  ip?: string | undefined;
  /** A fixed IPv6 address on an --ipv6 bridge network (run --ip6). */
  ip6?: string | undefined;
  /** More names on a user-defined network's DNS (run --network-alias). */
  aliases?: string[] | undefined;
  /** The first bridge NIC's MAC (run --mac-address). */
  macAddress?: string | undefined;
  /** More bridge networks, one NIC each (run --network a --network b). */
  extraNetworks?: NetworkEndpoint[] | undefined;
  ports?: PortRequest[] | undefined;
  /** Also publish the image's exposed ports on free host ports (run -P). */
  publishAll?: boolean | undefined;
  /** Named volumes, bound host folders (run -v); the image's declared mount points get anonymous volumes. */
  mounts?: MountRequest[] | undefined;
  /** User labels (run --label). */
  labels?: Record<string, string> | undefined;
  /** How stop ends it (run --stop-signal; signals.ts: STOP_SIGNALS); default the image's, else SIGTERM. */
  stopSignal?: string | undefined;
  /** Seconds stop waits before ending the VM (run --stop-timeout); default the image's, else 10. */
  stopTimeout?: number | undefined;
  /** The health check (run --health-*); the image's otherwise (health-spec.ts). */
  healthcheck?: HealthRequest | undefined;
  /** End an unhealthy instance and apply its restart policy as to a failure (run --restart-on-unhealthy). */
  restartOnUnhealthy?: boolean | undefined;
}

/**
 * The ports -P adds: each the image exposes (label org.cunik.ports, ["80/tcp", ...]) that -p does
 * not publish already, on a free host port of all addresses.
 */
export function exposedPorts(labels: Record<string, string>, given: PortRequest[], extra: { guestPort: number; proto?: 'tcp' | 'udp' | undefined }[] = []): PortRequest[] {
  const out: PortRequest[] = [];
  for (const p of [...imagePorts(labels, 'publishAll'), ...extra.map((e) => ({ guestPort: e.guestPort, proto: e.proto ?? 'tcp' }))]) {
    if (!given.some((g) => g.guestPort === p.guestPort && (g.proto ?? 'tcp') === p.proto) && !out.some((o) => o.guestPort === p.guestPort && o.proto === p.proto)) out.push(p);
  }
  return out;
}

/** The record's config for a create request: the image's defaults filled in, conflicts refused. */
export function instanceConfig(opts: CreateOptions, boot: Pick<ImageBootInfo, 'memoryMiB' | 'cpus'> & Partial<Pick<ImageBootInfo, 'stopSignal' | 'stopTimeout'>>, host: HostFacts = {}): InstanceRecord['config'] & { network: NetworkMode; ports: PortBinding[] } {
  const signal = opts.stopSignal ?? boot.stopSignal;
  const timeout = opts.stopTimeout ?? boot.stopTimeout;
  const config = {
    args: opts.args ?? [],
    env: opts.env ?? [],
    memoryMiB: opts.memoryMiB ?? boot.memoryMiB,
    cpus: opts.cpus ?? boot.cpus,
    ...(opts.cpuOvercommit === true && { cpuOvercommit: true }),
    ...(opts.readOnly === true && { readOnly: true }),
    ...(opts.hostname !== undefined && { hostname: opts.hostname }),
    ...((opts.extraHosts?.length ?? 0) > 0 && { extraHosts: opts.extraHosts!.map(extraHost).map((h) => `${h.name}:${h.address}`) }),
    ...(opts.entrypoint !== undefined && { entrypoint: opts.entrypoint }),
    ...(opts.tty === true && { tty: true }),
    ...((opts.expose?.length ?? 0) > 0 && { expose: dedupePorts(opts.expose!) }),
    ...dnsSettings(opts),
    ...(opts.user !== undefined && { user: opts.user }),
    ...(opts.workdir !== undefined && { workdir: opts.workdir }),
    autoRemove: opts.autoRemove ?? false,
    restartPolicy: opts.restartPolicy ? { name: opts.restartPolicy.name, maximumRetryCount: opts.restartPolicy.maximumRetryCount ?? 0 } : NO_RESTART,
    network: opts.network ?? 'user',
    ...(opts.ip !== undefined && { ip: opts.ip }),
    ...(opts.ip6 !== undefined && { ip6: parseIp6(opts.ip6) }),
    ...((opts.aliases?.length ?? 0) > 0 && { aliases: networkAliases(opts.aliases!, opts.network ?? 'user') }),
    ...(opts.macAddress !== undefined && { macAddress: checkMac(opts.macAddress) }),
    ...((opts.extraNetworks?.length ?? 0) > 0 && { extraNetworks: opts.extraNetworks!.map(checkEndpoint) }),
    ports: normalizePorts(opts.ports ?? []),
    ...(opts.labels !== undefined && Object.keys(opts.labels).length > 0 && { labels: { ...opts.labels } }),
    ...(signal !== undefined && { stopSignal: stopSignal(signal) }),
    ...(timeout !== undefined && { stopTimeout: timeout }),
  };
  if (config.macAddress !== undefined && !isBridgeMode(config.network)) throw invalid(`conflicting options: --mac-address needs a bridge network (not --network ${config.network})`, 'macAddress');
  checkEndpoints(config);
  if (config.ip !== undefined && !isBridgeMode(config.network)) throw invalid(`conflicting options: --ip needs a bridge network (not --network ${config.network})`, 'ip');
  if (config.ip6 !== undefined && !isBridgeMode(config.network)) throw invalid(`conflicting options: --ip6 needs a bridge network (not --network ${config.network})`, 'ip6');
  if (config.autoRemove && config.restartPolicy.name !== 'no') throw invalid('conflicting options: --restart and --rm', 'restartPolicy');
  if (config.network === 'none' && config.ports.length > 0) throw invalid('conflicting options: published ports need a network (not --network none)', 'ports');
  const over = host.cpus === undefined ? undefined : cpusOverHost(config.cpus, host.cpus, config.cpuOvercommit === true);
  if (over !== undefined) throw invalid(opts.cpus === undefined ? `the image asks for ${config.cpus} virtual CPUs, ${over}` : `cpus: ${config.cpus} is ${over}`, 'cpus');
  return config;
}

const HOSTNAME = new RegExp(HOSTNAME_PATTERN);

/** run --expose's ports, each once, tcp when not said. */
function dedupePorts(ports: { guestPort: number; proto?: 'tcp' | 'udp' | undefined }[]): { guestPort: number; proto: 'tcp' | 'udp' }[] {
  const out: { guestPort: number; proto: 'tcp' | 'udp' }[] = [];
  for (const p of ports) if (!out.some((o) => o.guestPort === p.guestPort && o.proto === (p.proto ?? 'tcp'))) out.push({ guestPort: p.guestPort, proto: p.proto ?? 'tcp' });
  return out;
}

/** run --dns (addresses), --dns-search (DNS names), --dns-option (resolv.conf's own syntax, checked by the API). */
function dnsSettings(opts: CreateOptions): Pick<InstanceRecord['config'], 'dns' | 'dnsSearch' | 'dnsOptions'> {
  for (const a of opts.dns ?? []) if (isIP(a) === 0) throw invalid(`invalid --dns ${JSON.stringify(a)}: give the IP address of a resolver`, 'dns');
  for (const d of opts.dnsSearch ?? []) if (!isDnsName(normalizeName(d)) || d.endsWith('.') || /[\s,]/.test(d)) throw invalid(`invalid --dns-search ${JSON.stringify(d)}: give a domain name`, 'dnsSearch');
  return {
    ...((opts.dns?.length ?? 0) > 0 && { dns: [...opts.dns!] }),
    ...((opts.dnsSearch?.length ?? 0) > 0 && { dnsSearch: [...opts.dnsSearch!] }),
    ...((opts.dnsOptions?.length ?? 0) > 0 && { dnsOptions: [...opts.dnsOptions!] }),
  };
}

/**
 * run --add-host NAME:ADDRESS (Docker's; also NAME=ADDRESS): NAME a host name, ADDRESS an IPv4 or
 * IPv6 address (brackets allowed) or host-gateway. The name has no ':' and the address may, so the
 * first separator splits them.
 */
export function extraHost(text: string): { name: string; address: string } {
  const at = /[:=]/.exec(text)?.index ?? -1;
  const name = text.slice(0, Math.max(at, 0));
  const address = text.slice(at + 1).replace(/^\[(.*)\]$/, '$1');
  if (at <= 0 || !HOSTNAME.test(name) || name.length > 64) throw invalid(`invalid --add-host ${JSON.stringify(text)}: give NAME:ADDRESS, NAME a host name (letters, digits, '-', labels joined by dots)`, 'extraHosts');
  if (address !== 'host-gateway' && isIP(address) === 0) throw invalid(`invalid --add-host ${JSON.stringify(text)}: ${JSON.stringify(address)} is not an IP address (nor host-gateway)`, 'extraHosts');
  return { name, address };
}

/**
 * Refuse less memory than the image's minimum (its org.cunik.memory.min label), whatever the
 * family: below it the guest cannot boot (the linux adapter refuses it first, in its own words).
 */
export function checkImageMemory(memoryMiB: number, labels: Record<string, string> | undefined): void {
  const min = Number(labels?.[LABEL_MEMORY_MIN] ?? 0);
  if (Number.isFinite(min) && memoryMiB < min) {
    throw invalid(`memory: ${memoryMiB} MiB is below this image's minimum of ${min} MiB: give -m ${min}m or more`, 'memoryMiB');
  }
}

/** One more network of a request (or network connect): its MAC and aliases checked; no empty aliases list kept. */
export function checkEndpoint(e: NetworkEndpoint): NetworkEndpoint {
  const { aliases, ...rest } = e;
  return { ...rest, ...(e.macAddress !== undefined && { macAddress: checkMac(e.macAddress) }), ...(e.ip6 !== undefined && { ip6: parseIp6(e.ip6) }), ...((aliases?.length ?? 0) > 0 && { aliases: networkAliases(aliases!, e.network) }) };
}

/** --network-alias: DNS names (any case, no trailing dot), each once, on a user-defined network only (Docker's rule). */
export function networkAliases(aliases: readonly string[], network: NetworkMode): string[] {
  if (!isBridgeMode(network) || network === DEFAULT_NETWORK) throw invalid(`network-scoped aliases are only supported for user-defined networks (not --network ${network})`, 'aliases');
  const out: string[] = [];
  for (const a of aliases) {
    if (!isDnsName(normalizeName(a)) || a.endsWith('.')) throw invalid(`invalid network alias ${JSON.stringify(a)}: give a DNS name (letters, digits, '-' and '_', labels joined by dots)`, 'aliases');
    if (!out.some((o) => normalizeName(o) === normalizeName(a))) out.push(a);
  }
  return out;
}

export interface HostFacts {
  /** The CPUs this process may run on (os.availableParallelism()): the most vCPUs an instance gets unless overcommitted. */
  cpus?: number | undefined;
  /** The host's TSC frequency (families/host.ts: hostTscKhz()). */
  tscKhz?: number | undefined;
}

/** The bridge networks of an instance, one NIC each, the first (config.network) first; none for user/none. */
export function endpointsOf(config: InstanceRecord['config']): Endpoint[] {
  const mode = config.network ?? 'none';
  if (!isBridgeMode(mode)) return [];
  return [{ network: mode, ip: config.ip, ip6: config.ip6, macAddress: config.macAddress, aliases: config.aliases }, ...(config.extraNetworks ?? [])];
}

/** Several networks: all bridge networks, none twice, no MAC twice (create and network connect). */
export function checkEndpoints(config: InstanceRecord['config']): void {
  const extra = config.extraNetworks ?? [];
  if (extra.length === 0) return;
  if (!isBridgeMode(config.network ?? 'none')) throw invalid(`--network ${config.network ?? 'none'} cannot be combined with other networks (only bridge networks can be several)`, 'network');
  if (extra.length > MAX_EXTRA_NETWORKS) throw invalid(`an instance has at most ${MAX_EXTRA_NETWORKS + 1} networks`, 'extraNetworks');
  const seen = new Set<string>();
  const macs = new Set<string>();
  for (const e of endpointsOf(config)) {
    if (!isBridgeMode(e.network)) throw invalid(`--network ${e.network} cannot be combined with other networks (only bridge networks can be several)`, 'network');
    if (seen.has(e.network)) throw invalid(`network ${e.network} is given twice`, 'network');
    seen.add(e.network);
    if (e.macAddress !== undefined) {
      if (macs.has(e.macAddress)) throw invalid(`--mac-address ${e.macAddress} is given for two networks`, 'macAddress');
      macs.add(e.macAddress);
    }
  }
}

/** A bridge network's part of one start: its tap, address, MAC, gateway and DNS. */
export type BridgeAttachment = Attachment;

/**
 * The instance's network for one start: in user mode the fixed guest settings (network/user.ts) and the ports
 * as bound (`ports`, hostPort never 0); on a bridge network what it was given (`bridge`; before its first
 * start no address yet); with 'none' no NIC.
 */
export function networkSettings(config: InstanceRecord['config'], ports: PortBinding[], bridge?: BridgeAttachment): NetworkSettings {
  const mode = config.network ?? 'none';
  if (mode === 'none') return { mode: 'none', ipAddress: null, prefixLen: null, gateway: null, dns: [], ports: [] };
  if (isBridgeMode(mode)) {
    if (bridge === undefined) return { mode, ipAddress: config.ip ?? null, prefixLen: null, gateway: null, dns: [], ports: [], ...(config.macAddress !== undefined && { macAddress: config.macAddress }) };
    return { mode, ipAddress: bridge.ip, prefixLen: bridge.prefix, gateway: bridge.gateway, dns: [...bridge.dns], ports, tap: bridge.tap, macAddress: bridge.mac, ...v6Settings(bridge) };
  }
  return { mode: 'user', ipAddress: USER_NET.ip, prefixLen: USER_NET.prefix, gateway: USER_NET.gateway, dns: [...USER_NET.dns], ports };
}

/** The extra networks' settings for one start (`bridges`: their attachments; before a start none: pending). */
export function extraNetworkSettings(config: InstanceRecord['config'], bridges?: BridgeAttachment[]): NetworkSettings[] {
  return (config.extraNetworks ?? []).map((e, i) => {
    const b = bridges?.[i];
    if (b === undefined) return { mode: e.network, ipAddress: e.ip ?? null, prefixLen: null, gateway: null, dns: [], ports: [], ...(e.macAddress !== undefined && { macAddress: e.macAddress }) };
    return { mode: e.network, ipAddress: b.ip, prefixLen: b.prefix, gateway: b.gateway, dns: [...b.dns], ports: [], tap: b.tap, macAddress: b.mac, ...v6Settings(b) };
  });
}

const v6Settings = (b: BridgeAttachment): Partial<NetworkSettings> =>
  b.ip6 !== undefined ? { globalIPv6Address: b.ip6, globalIPv6PrefixLen: b.prefix6!, ipv6Gateway: b.gateway6! } : {};

/** A bridge network's NIC: the run's tap, and the guest's static settings (there is no DHCP server on the bridge). */
function bridgeNetwork(network: NetworkSettings): InstanceNetwork {
  return {
    nic: { backend: { type: 'tap', ifname: network.tap ?? PENDING_TAP }, ...(network.macAddress !== undefined && { mac: network.macAddress }) },
    ...(network.ipAddress !== null && network.prefixLen !== null && { ip: network.ipAddress, prefix: network.prefixLen }),
    ...(network.gateway !== null && { gateway: network.gateway }),
    dns: [...network.dns],
    ...(network.globalIPv6Address !== undefined && { ip6: network.globalIPv6Address, prefix6: network.globalIPv6PrefixLen!, ...(network.ipv6Gateway !== undefined && { gateway6: network.ipv6Gateway }) }),
  };
}

/**
 * The guest's resolv.conf settings. On a user-defined network whose gateway answers DNS, the guest
 * keeps asking its gateway (so its peers' names still resolve) and --dns is where the gateway
 * forwards this instance's other names (as Docker's embedded DNS does; daemon/network-dns.ts).
 */
function guestDns(config: InstanceRecord['config'], network: NetworkSettings): Pick<InstanceBootConfig, 'dns'> {
  const viaGateway = isBridgeMode(network.mode) && network.mode !== DEFAULT_NETWORK && network.dns.length > 0;
  const servers = viaGateway ? undefined : config.dns;
  if ((servers ?? config.dnsSearch ?? config.dnsOptions) === undefined) return {};
  return { dns: { ...(servers && { servers }), ...(config.dnsSearch && { search: config.dnsSearch }), ...(config.dnsOptions && { options: config.dnsOptions }) } };
}

/** Also checked at each start: a record made on a bigger host (or before the rule) is refused, not booted. */
export function bootConfig(config: InstanceRecord['config'], network: NetworkSettings, host: HostFacts = {}, extra: NetworkSettings[] = extraNetworkSettings(config)): InstanceBootConfig {
  const over = host.cpus === undefined ? undefined : cpusOverHost(config.cpus, host.cpus, config.cpuOvercommit === true);
  if (over !== undefined) throw invalid(`cpus: ${config.cpus} is ${over}`, 'cpus');
  return {
    args: config.args,
    env: config.env,
    memoryMiB: config.memoryMiB,
    cpus: config.cpus,
    ...(network.mode === 'user' && { networks: [userNetwork(network.ports)] }),
    ...(isBridgeMode(network.mode) && { networks: [bridgeNetwork(network), ...extra.map(bridgeNetwork)] }),
    ...((config.mounts?.length ?? 0) > 0 && { volumes: instanceVolumes(config.mounts!) }),
    ...(host.tscKhz !== undefined && { tscKhz: host.tscKhz }),
    ...(config.readOnly === true && { readOnlyRoot: true }),
    ...(config.hostname !== undefined && { hostname: config.hostname }),
    ...((config.extraHosts?.length ?? 0) > 0 && { extraHosts: config.extraHosts!.map(extraHost) }),
    ...(config.entrypoint !== undefined && { entrypoint: config.entrypoint }),
    ...guestDns(config, network),
    ...(config.user !== undefined && { user: config.user }),
    ...(config.workdir !== undefined && { workdir: config.workdir }),
  };
}
