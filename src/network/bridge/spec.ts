// A bridge network's record from a create request: names, subnet (given, or the first free one of
// the pool), gateway, address range, the bridge device's name. Pure; every refusal is one line.
// DESIGN.md "Networking", docs/networking.md.
import { isIPv4, isIPv6 } from 'node:net';
import { conflict, invalid } from '../../errors.js';
import { canonical6, formatSubnet6, isHost6, nth6, overlaps6, parseSubnet6, randomUla64, type Subnet6 } from './cidr6.js';
import { contains, formatSubnet, hostRange, intToIp, ipToInt, overlaps, parseSubnet, size, type Subnet } from './cidr.js';

/** A bridge network as stored (one JSON file under <root>/networks/). */
export interface NetworkRecord {
  id: string;
  name: string;
  driver: 'bridge';
  /** e.g. 10.213.0.0/24 */
  subnet: string;
  /** The bridge's own address in the subnet: the guests' default route (and, later, their DNS). */
  gateway: string;
  /** Guest addresses are handed out from this part of the subnet (default: all of it). */
  ipRange?: string;
  /** No egress: guests reach each other and the gateway, nothing beyond. */
  internal: boolean;
  /** IPv6 (network create --ipv6): a unique local subnet, e.g. fd12:3456:789a::/64, and the bridge's address in it. */
  subnet6?: string;
  gateway6?: string;
  labels: Record<string, string>;
  /** The host's bridge device (at most 15 bytes, IFNAMSIZ - 1). */
  bridge: string;
  createdAt: string;
}

export interface NetworkRequest {
  name: string;
  subnet?: string | undefined;
  gateway?: string | undefined;
  ipRange?: string | undefined;
  internal?: boolean | undefined;
  labels?: Record<string, string> | undefined;
  ipv6?: boolean | undefined;
  subnet6?: string | undefined;
  gateway6?: string | undefined;
}

/** The network the daemon makes itself when first needed (Docker's `bridge`, device docker0). */
export const DEFAULT_NETWORK = 'bridge';
export const DEFAULT_BRIDGE = 'cunik0';
/** Network names that are modes of `--network`, not networks. */
export const RESERVED_NETWORK_NAMES = ['user', 'none', 'host', 'default', DEFAULT_NETWORK];
export const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
/** Subnets of networks without --subnet (and of the default without --bip): /24s of this one. */
export const DEFAULT_POOL = '10.213.0.0/16';
export const POOL_PREFIX = 24;
/** Every device Cunik makes starts with this: bridges `cunikbr-<id>` (and cunik0), taps `cunikt<id>`. */
export const DEVICE_PREFIX = 'cunik';
export const BRIDGE_PREFIX = 'cunikbr-';

/** Why a daemon has no bridge networks: the one line every such request gets. */
export const NO_BRIDGE = 'bridge networks need a daemon running as root (this one is not): use --network user';

/** `--network` values that name a bridge network (the default one or a user-defined one). */
export const isBridgeMode = (mode: string): boolean => mode !== 'user' && mode !== 'none';
/** The tap of a boot spec built before the instance's first start (create's checks): never opened. */
export const PENDING_TAP = 'cunikt-pending';

export const bridgeName = (id: string): string => `${BRIDGE_PREFIX}${id.slice(0, 7)}`;

/** The first /POOL_PREFIX of the pool that overlaps none of `taken` (other networks, the host's routes). */
export function chooseSubnet(pool: Subnet, taken: Subnet[], prefix = POOL_PREFIX): Subnet | undefined {
  for (let base = pool.base; base < pool.base + size(pool); base += 2 ** (32 - prefix)) {
    const s = { base, prefix };
    if (!taken.some((t) => overlaps(s, t))) return s;
  }
  return undefined;
}

/**
 * The record for a request (without id and createdAt), checked against the other networks and the
 * host's routes (subnets, "default" is ignored). `defaultNetwork`: the daemon's own network, whose
 * name is reserved for users.
 */
export function networkSpec(req: NetworkRequest, others: NetworkRecord[], hostRoutes: string[], opts: { id: string; pool?: string; defaultNetwork?: boolean } = { id: '' }): Omit<NetworkRecord, 'createdAt'> {
  const { name } = req;
  if (!NETWORK_NAME.test(name)) throw invalid(`invalid network name ${JSON.stringify(name)}: use 1-63 of [a-zA-Z0-9_.-], starting with a letter or digit`, 'name');
  if (!opts.defaultNetwork && RESERVED_NETWORK_NAMES.includes(name)) throw invalid(`network name ${name} is reserved`, 'name');
  if (others.some((n) => n.name === name)) throw conflict(`network ${name} already exists`);
  const routes = hostRoutes.flatMap((r) => {
    if (r === 'default') return [];
    try {
      return [r.includes('/') ? parseRoute(r) : { base: ipToIntSafe(r), prefix: 32 }];
    } catch {
      return [];
    }
  });
  // Docker's rule: a gateway or range chosen for a subnet the pool picks would be a guess.
  if (req.subnet === undefined && (req.gateway !== undefined || req.ipRange !== undefined)) {
    throw invalid(`every ip-range or gateway must have a corresponding subnet: give --subnet with ${req.gateway !== undefined ? '--gateway' : '--ip-range'}`, req.gateway !== undefined ? 'gateway' : 'ipRange');
  }
  let subnet: Subnet;
  if (req.subnet !== undefined) {
    subnet = parseSubnet(req.subnet, 'subnet');
    const clash = others.find((n) => overlaps(parseSubnet(n.subnet), subnet));
    if (clash) throw conflict(`subnet ${req.subnet} overlaps ${clash.subnet} of network ${clash.name}`);
  } else {
    const pool = parseSubnet(opts.pool ?? DEFAULT_POOL, 'pool');
    const found = chooseSubnet(pool, [...others.map((n) => parseSubnet(n.subnet)), ...routes]);
    if (!found) throw conflict(`no free subnet left in the pool ${formatSubnet(pool)}: give one with --subnet`);
    subnet = found;
  }
  const hosts = hostRange(subnet);
  let gateway = intToIp(hosts.first);
  if (req.gateway !== undefined) {
    if (!isIPv4(req.gateway)) throw invalid(`gateway: ${JSON.stringify(req.gateway)} is not an IPv4 address`, 'gateway');
    if (!contains(subnet, req.gateway) || req.gateway === intToIp(subnet.base) || req.gateway === intToIp(subnet.base + size(subnet) - 1)) {
      throw invalid(`gateway ${req.gateway} is not a host address of subnet ${formatSubnet(subnet)}`, 'gateway');
    }
    gateway = req.gateway;
  }
  let ipRange: string | undefined;
  if (req.ipRange !== undefined) {
    const range = parseSubnet(req.ipRange, 'ipRange');
    if (range.base < subnet.base || range.base + size(range) > subnet.base + size(subnet)) throw invalid(`ip range ${req.ipRange} is not inside subnet ${formatSubnet(subnet)}`, 'ipRange');
    ipRange = formatSubnet(range);
  }
  const v6 = ipv6Spec(req, others);
  return {
    id: opts.id,
    name,
    driver: 'bridge',
    subnet: formatSubnet(subnet),
    gateway,
    ...(ipRange !== undefined && { ipRange }),
    ...v6,
    internal: req.internal ?? false,
    labels: req.labels ?? {},
    bridge: opts.defaultNetwork ? DEFAULT_BRIDGE : bridgeName(opts.id),
  };
}

/** A route's destination "10.1.0.0/16" (host bits tolerated, as the kernel prints them clean anyway). */
function parseRoute(r: string): Subnet {
  const [ip, p] = r.split('/');
  const prefix = Number(p);
  const n = ipToIntSafe(ip!);
  return { base: n - (n % 2 ** (32 - prefix)), prefix };
}

function ipToIntSafe(ip: string): number {
  if (!isIPv4(ip)) throw new Error('not ipv4');
  return ipToInt(ip);
}

/**
 * Where a guest's fixed address (run --ip) may be: inside the network's subnet (and its range),
 * not the network, broadcast or gateway address. Whether another instance has it is the IPAM's.
 */
export function checkStaticIp(net: NetworkRecord, ip: string): void {
  if (!isIPv4(ip)) throw invalid(`--ip: ${JSON.stringify(ip)} is not an IPv4 address`, 'ip');
  const subnet = parseSubnet(net.subnet);
  const { first, last } = hostRange(subnet);
  const n = ipToInt(ip);
  if (!contains(subnet, ip) || n < first || n > last) throw invalid(`--ip ${ip} is not a host address of network ${net.name} (${net.subnet})`, 'ip');
  if (ip === net.gateway) throw invalid(`--ip ${ip} is the gateway of network ${net.name}`, 'ip');
}

/** --ip6's text: an IPv6 address, in its canonical form (the IPAM's file names are). */
export function parseIp6(ip6: string): string {
  if (!isIPv6(ip6) || ip6.includes('%') || ip6.includes('.')) throw invalid(`--ip6: ${JSON.stringify(ip6)} is not an IPv6 address`, 'ip6');
  return canonical6(ip6);
}

/** A fixed IPv6 address (run --ip6): a host address of the network's IPv6 subnet, not its gateway. */
export function checkStaticIp6(net: NetworkRecord, ip6: string): void {
  const ip = parseIp6(ip6);
  if (net.subnet6 === undefined || net.gateway6 === undefined) throw invalid(`--ip6 needs a network with IPv6: network ${net.name} has none (network create --ipv6)`, 'ip6');
  if (!isHost6(parseSubnet6(net.subnet6), ip)) throw invalid(`--ip6 ${ip6} is not a host address of network ${net.name} (${net.subnet6})`, 'ip6');
  if (ip === canonical6(net.gateway6)) throw invalid(`--ip6 ${ip6} is the gateway of network ${net.name}`, 'ip6');
}

/**
 * A MAC address a user gives (run --mac-address): six hex pairs, unicast (the first byte's lowest
 * bit clear: a multicast source address is dropped by every bridge) and not all zeros.
 */
export function checkMac(mac: string, field = 'macAddress'): string {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) throw invalid(`--mac-address: ${JSON.stringify(mac)} is not a MAC address (six hex pairs, e.g. 02:42:ac:11:00:02)`, field);
  if (parseInt(mac.slice(0, 2), 16) % 2 === 1 || mac === '00:00:00:00:00:00') throw invalid(`--mac-address ${mac} is not a unicast address (the first byte must be even, e.g. 02:...)`, field);
  return mac.toLowerCase();
}

/** --ipv6: the given subnet (or a random ULA /64) clear of the other networks', its gateway (default ::1). */
function ipv6Spec(req: NetworkRequest, others: NetworkRecord[]): { subnet6?: string; gateway6?: string } {
  if (req.ipv6 !== true) {
    if (req.subnet6 !== undefined || req.gateway6 !== undefined) throw invalid(`an IPv6 ${req.subnet6 !== undefined ? 'subnet' : 'gateway'} needs --ipv6`, 'ipv6');
    return {};
  }
  const taken = others.flatMap((n) => (n.subnet6 !== undefined ? [{ net: n, s: parseSubnet6(n.subnet6) }] : []));
  let subnet: Subnet6;
  if (req.subnet6 !== undefined) {
    subnet = parseSubnet6(req.subnet6, 'subnet');
    const clash = taken.find((t) => overlaps6(t.s, subnet));
    if (clash) throw conflict(`subnet ${req.subnet6} overlaps ${clash.net.subnet6} of network ${clash.net.name}`);
  } else {
    do subnet = parseSubnet6(randomUla64());
    while (taken.some((t) => overlaps6(t.s, subnet)));
  }
  let gateway6 = nth6(subnet, 1n);
  if (req.gateway6 !== undefined) {
    if (!isIPv6(req.gateway6)) throw invalid(`gateway: ${JSON.stringify(req.gateway6)} is not an IPv6 address`, 'gateway');
    if (!isHost6(subnet, req.gateway6)) throw invalid(`gateway ${req.gateway6} is not a host address of subnet ${formatSubnet6(subnet)}`, 'gateway');
    gateway6 = canonical6(req.gateway6);
  }
  return { subnet6: formatSubnet6(subnet), gateway6 };
}
