// IPv6 subnets for bridge networks (network create --ipv6 --subnet fdxx::/64): parsing, overlap,
// the n-th address, a random ULA /64 (RFC 4193) when none is given. Pure, BigInt arithmetic.
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { invalid } from '../../errors.js';

export interface Subnet6 {
  base: bigint;
  prefix: number;
}

/** "fd00:1::5" → 128-bit number (node:net checked it first). */
export function ip6ToBig(ip: string): bigint {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** The canonical text (RFC 5952: lower case, the longest run of zero groups as ::). */
export function bigToIp6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

export const canonical6 = (ip: string): string => bigToIp6(ip6ToBig(ip));
const size6 = (s: Subnet6): bigint => 1n << BigInt(128 - s.prefix);
export const formatSubnet6 = (s: Subnet6): string => `${bigToIp6(s.base)}/${s.prefix}`;
export const contains6 = (s: Subnet6, ip: string): boolean => {
  const n = ip6ToBig(ip);
  return n >= s.base && n < s.base + size6(s);
};
export const overlaps6 = (a: Subnet6, b: Subnet6): boolean => a.base < b.base + size6(b) && b.base < a.base + size6(a);

/** "fd12:3456:789a::/64"; host bits must be zero, the prefix 48-120 (room for a gateway and guests, and not a whole site). */
export function parseSubnet6(text: string, field = 'subnet'): Subnet6 {
  const m = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(text);
  if (!m || !isIPv6(m[1]!)) throw invalid(`${field}: ${JSON.stringify(text)} is not an IPv6 subnet (ADDRESS/PREFIX, e.g. fd12:3456:789a::/64)`, field);
  const prefix = Number(m[2]);
  if (prefix < 48 || prefix > 120) throw invalid(`${field}: the prefix length of ${text} must be 48-120`, field);
  const base = ip6ToBig(m[1]!);
  const host = base & (size6({ base: 0n, prefix }) - 1n);
  if (host !== 0n) throw invalid(`${field}: ${text} has host bits set (did you mean ${bigToIp6(base - host)}/${prefix}?)`, field);
  return { base, prefix };
}

/** The address `n` places after the subnet's base (n >= 1). */
export const nth6 = (s: Subnet6, n: bigint): string => bigToIp6(s.base + n);
/** Whether `ip` is a guest or gateway address of the subnet: inside it, not its base (the subnet-router anycast address). */
export const isHost6 = (s: Subnet6, ip: string): boolean => contains6(s, ip) && ip6ToBig(ip) !== s.base;

/** A random unique local /64 (RFC 4193 3.2: fd + a 40-bit random global ID, subnet 0). */
export function randomUla64(): string {
  const id = randomBytes(5);
  const base = (0xfdn << 120n) | (BigInt(`0x${id.toString('hex')}`) << 80n);
  return formatSubnet6({ base, prefix: 64 });
}
