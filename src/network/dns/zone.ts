// The names one network's DNS responder owns: each instance's name and aliases, their addresses,
// and the reverse (PTR) names of those addresses. Pure data; the responder (server.ts) asks it on
// every query, so a change is visible to the very next query. docs/networking.md, "Names (DNS)".
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** One instance's presence on a network, as the responder needs it. */
export interface Endpoint {
  /** The instance's id: the key when given (a rename is then a register with the same id), else the name is. */
  id?: string | undefined;
  /** The instance's name (unique in the daemon). */
  name: string;
  /** Its `--network-alias`es on this network; several instances may share one (all answer). */
  aliases?: readonly string[] | undefined;
  ipv4: string;
  ipv6?: string | undefined;
  /** Its own resolvers (`run --dns` on a user-defined network): the names that are not the network's are forwarded to these, not the host's. */
  upstreams?: readonly string[] | undefined;
}

export interface Addresses {
  v4: string[];
  v6: string[];
}

/** What a name resolves to: the addresses, or the name under which the network owns an address (PTR). */
export type Lookup = { kind: 'addresses'; addresses: Addresses } | { kind: 'ptr'; target: string } | { kind: 'nxdomain' };

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower case, without the trailing dot: the form every name is compared in. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Whether `name` (normalized) can be a DNS name the responder answers for: LDH labels (and `_`), 253 characters at most. */
export function isDnsName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split('.').every((l) => LABEL.test(l));
}

/** `10.88.0.5` → `5.0.88.10.in-addr.arpa`; `fd00::5` → the 32 nibbles under `ip6.arpa`. */
export function reverseName(address: string): string {
  if (isIPv4(address)) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${[...expandIPv6(address)].reverse().join('.')}.ip6.arpa`;
}

/** The address a reverse name stands for, or undefined if it is not a whole in-addr.arpa / ip6.arpa name. */
export function addressOfReverse(name: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const n = normalizeName(name);
  if (n.endsWith('.in-addr.arpa')) {
    const parts = n.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
    return { address: parts.reverse().join('.'), family: 'ipv4' };
  }
  if (n.endsWith('.ip6.arpa')) {
    const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = nibbles.reverse().join('');
    return { address: hex.match(/.{4}/g)!.join(':'), family: 'ipv6' };
  }
  return undefined;
}

/** The 32 hex digits of an IPv6 address (no embedded IPv4 form: the networks' ULA addresses have none). */
function expandIPv6(address: string): string {
  if (!isIPv6(address) || address.includes('.')) throw new Error(`not an IPv6 address in hex form: ${address}`);
  const [head = '', tail] = address.toLowerCase().split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return all.map((g) => g.padStart(4, '0')).join('');
}

/** One spelling per address (a query's source and a record may write an IPv6 address differently). */
const canonical = (address: string): string => (isIPv6(address) && !address.includes('.') ? expandIPv6(address) : address);

const keyOf = (e: Endpoint): string => e.id ?? normalizeName(e.name);

function checkEndpoint(e: Endpoint): void {
  if (!isIPv4(e.ipv4)) throw new Error(`${e.name}: not an IPv4 address: ${e.ipv4}`);
  if (e.ipv6 !== undefined && (!isIPv6(e.ipv6) || e.ipv6.includes('.'))) throw new Error(`${e.name}: not an IPv6 address: ${e.ipv6}`);
  for (const u of e.upstreams ?? []) if (!isIPv4(u) && !isIPv6(u)) throw new Error(`${e.name}: not the address of a resolver: ${u}`);
}

/**
 * One network's table. Every instance answers under its name and aliases, bare (`web`) and with
 * the network's name as a suffix (`web.mynet`); PTR queries for its addresses answer
 * `name.network`.
 */
export class Zone {
  private readonly endpoints = new Map<string, Endpoint>();
  private byName = new Map<string, Endpoint[]>();
  private byReverse = new Map<string, string>();
  private upstreamsByAddress = new Map<string, readonly string[]>();
  private readonly subnets = new BlockList();
  readonly suffix: string;

  /** `subnets`: the network's CIDRs; reverse names inside them that no instance holds are NXDOMAIN here. */
  constructor(
    readonly network: string,
    subnets: readonly string[] = [],
  ) {
    this.suffix = normalizeName(network);
    for (const cidr of subnets) {
      const [addr = '', bits] = cidr.split('/');
      const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : undefined;
      const prefix = Number(bits);
      if (family === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) throw new Error(`not a subnet: ${cidr}`);
      this.subnets.addSubnet(addr, prefix, family);
    }
  }

  /** Adds or replaces the instance `e.name`. */
  set(e: Endpoint): void {
    checkEndpoint(e);
    this.deleteQuiet(e.name);
    this.endpoints.set(keyOf(e), e);
    this.rebuild();
  }

  /** Removes the instance, by id or name; true if it was there. */
  delete(ref: string): boolean {
    const had = this.deleteQuiet(ref);
    if (had) this.rebuild();
    return had;
  }

  private deleteQuiet(ref: string): boolean {
    if (this.endpoints.delete(ref)) return true;
    const n = normalizeName(ref);
    for (const [k, e] of this.endpoints) if (normalizeName(e.name) === n) return this.endpoints.delete(k);
    return false;
  }

  /** Replaces the whole table (live restore: the instance records are the truth). */
  replace(endpoints: readonly Endpoint[]): void {
    endpoints.forEach(checkEndpoint);
    this.endpoints.clear();
    for (const e of endpoints) this.endpoints.set(keyOf(e), e);
    this.rebuild();
  }

  list(): Endpoint[] {
    return [...this.endpoints.values()];
  }

  /** Whether the address lies in one of the network's subnets (the responder answers only those). */
  contains(address: string): boolean {
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    return family !== undefined && this.subnets.check(address, family);
  }

  /** The resolvers the instance at `address` asked for (`--dns`), or undefined for the host's. */
  upstreamsFor(address: string): readonly string[] | undefined {
    return this.upstreamsByAddress.get(canonical(address));
  }

  /** What the zone says about `qname`, or undefined when the name is not the zone's to answer. */
  lookup(qname: string): Lookup | undefined {
    const n = normalizeName(qname);
    const owners = this.byName.get(n);
    if (owners) {
      const v4 = new Set<string>();
      const v6 = new Set<string>();
      for (const e of owners) {
        v4.add(e.ipv4);
        if (e.ipv6 !== undefined) v6.add(e.ipv6);
      }
      return { kind: 'addresses', addresses: { v4: [...v4], v6: [...v6] } };
    }
    const target = this.byReverse.get(n);
    if (target !== undefined) return { kind: 'ptr', target };
    const rev = addressOfReverse(n);
    if (rev && this.subnets.check(rev.address, rev.family)) return { kind: 'nxdomain' };
    return undefined;
  }

  private rebuild(): void {
    const byName = new Map<string, Endpoint[]>();
    const byReverse = new Map<string, string>();
    const upstreams = new Map<string, readonly string[]>();
    const add = (key: string, e: Endpoint): void => {
      if (!isDnsName(key)) return;
      const list = byName.get(key);
      if (list) {
        if (!list.includes(e)) list.push(e);
      } else byName.set(key, [e]);
    };
    for (const e of this.endpoints.values()) {
      if ((e.upstreams?.length ?? 0) > 0) for (const a of [e.ipv4, e.ipv6]) if (a !== undefined) upstreams.set(canonical(a), e.upstreams!);
      for (const raw of [e.name, ...(e.aliases ?? [])]) {
        const n = normalizeName(raw);
        add(n, e);
        add(`${n}.${this.suffix}`, e);
      }
      const ptr = `${normalizeName(e.name)}.${this.suffix}`;
      if (isDnsName(ptr)) {
        byReverse.set(reverseName(e.ipv4), ptr);
        if (e.ipv6 !== undefined) byReverse.set(reverseName(e.ipv6), ptr);
      }
    }
    this.byName = byName;
    this.byReverse = byReverse;
    this.upstreamsByAddress = upstreams;
  }
}
