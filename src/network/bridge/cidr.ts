// IPv4 subnets for bridge networks: parsing, containment, overlap, the n-th address. Pure.
import { isIPv4 } from 'node:net';
import { invalid } from '../../errors.js';

export interface Subnet {
  /** The network address as a 32-bit number. */
  base: number;
  prefix: number;
}

export const ipToInt = (ip: string): number => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
export const intToIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
/** The number of addresses in the subnet (2^(32-prefix)). */
export const size = (s: Subnet): number => 2 ** (32 - s.prefix);
export const formatSubnet = (s: Subnet): string => `${intToIp(s.base)}/${s.prefix}`;
export const contains = (s: Subnet, ip: string): boolean => {
  const n = ipToInt(ip);
  return n >= s.base && n < s.base + size(s);
};
export const overlaps = (a: Subnet, b: Subnet): boolean => a.base < b.base + size(b) && b.base < a.base + size(a);
/** "255.255.255.0" */
export const netmask = (prefix: number): string => intToIp(2 ** 32 - 2 ** (32 - prefix));

/**
 * "10.213.0.0/24" as a Subnet; `field` names the option in the error. Host bits must be zero
 * (Docker refuses 10.1.2.3/24 too) and the prefix 8-30: a network smaller than /30 has no room
 * for a gateway and a guest.
 */
export function parseSubnet(text: string, field = 'subnet'): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m || !isIPv4(m[1]!)) throw invalid(`${field}: ${JSON.stringify(text)} is not an IPv4 subnet (ADDRESS/PREFIX, e.g. 10.213.0.0/24)`, field);
  const prefix = Number(m[2]);
  if (prefix < 8 || prefix > 30) throw invalid(`${field}: the prefix length of ${text} must be 8-30`, field);
  const base = ipToInt(m[1]!);
  if (base % 2 ** (32 - prefix) !== 0) throw invalid(`${field}: ${text} has host bits set (did you mean ${intToIp(base - (base % 2 ** (32 - prefix)))}/${prefix}?)`, field);
  return { base, prefix };
}

/** The guest addresses of `range` (or the whole subnet): without the network and broadcast addresses. */
export function hostRange(subnet: Subnet, range: Subnet = subnet): { first: number; last: number } {
  const first = Math.max(range.base, subnet.base + 1);
  const last = Math.min(range.base + size(range) - 1, subnet.base + size(subnet) - 2);
  return { first, last };
}
