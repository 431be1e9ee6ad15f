// Cunik's firewall: one nftables table, `inet cunik`, holding every rule Cunik needs and nothing
// else. Pure: the whole table's text from the networks, applied as one `nft -f -` transaction
// (host.ts) that deletes the old table and adds the new one, so the kernel switches from one
// complete ruleset to the other or not at all; removing Cunik's rules is deleting the table.
// Other tools' tables (Docker's, firewalld's) are never read or written.
//
// Per network (bridge BR, subnet S):
// - forward: traffic between two guests of one bridge is switched by the bridge and never seen
//   here; guests of BR may not reach another Cunik network's guests (Docker's isolation);
//   an --internal network's guests reach nothing beyond their bridge (and nothing reaches them);
//   otherwise a guest's connections go out and their replies come back, and nothing else comes in
//   (as Docker's: a guest is reached from outside only through what it publishes).
// - postrouting (nat): a non-internal network's traffic leaving by another interface is
//   masqueraded behind that interface's address (egress); IPv6 too (a unique local subnet is
//   not routed beyond the host, so its egress needs the same NAT, as Docker's ip6tables does).
// Per published port (docs/networking.md, "Published ports on bridge networks"):
// - prerouting (nat): traffic to the host's address (or the -p address) and port from elsewhere
//   is DNATed to the guest; output (nat): the same for connections the host itself makes, through
//   127.0.0.1 too (hairpin: the bridge has route_localnet=1, postrouting masquerades 127.0.0.0/8
//   leaving by the bridge, so the guest answers its gateway); forward lets DNATed traffic in.
// - guard (filter, prerouting): nothing with a 127.0.0.0/8 address comes in from a Cunik bridge
//   (route_localnet would otherwise let a guest reach the host's loopback: CVE-2020-8558).
import type { NetworkRecord } from './spec.js';

export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'cunik';

const quote = (ifname: string): string => {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) throw new Error(`not an interface name: ${JSON.stringify(ifname)}`);
  return `"${ifname}"`;
};

/** A port published by an instance on a bridge network: host side and the guest's address on `bridge`. */
export interface PublishedPort {
  bridge: string;
  proto: 'tcp' | 'udp';
  /** 0.0.0.0: every local address of the host. */
  hostIp: string;
  hostPort: number;
  guestIp: string;
  guestPort: number;
}

const ipv4 = (a: string): string => {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) throw new Error(`not an IPv4 address: ${JSON.stringify(a)}`);
  return a;
};
const port = (n: number): number => {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`not a port: ${n}`);
  return n;
};

/** The DNAT of one published port (the same match in prerouting and output). */
function dnat(p: PublishedPort): string {
  const to = p.hostIp === '0.0.0.0' ? 'fib daddr type local' : `ip daddr ${ipv4(p.hostIp)}`;
  const proto = p.proto === 'udp' ? 'udp' : 'tcp';
  return `meta nfproto ipv4 ${to} ${proto} dport ${port(p.hostPort)} dnat ip to ${ipv4(p.guestIp)}:${port(p.guestPort)}`;
}

type Net = Pick<NetworkRecord, 'bridge' | 'subnet' | 'internal' | 'subnet6'>;

/** The text of table inet cunik for these networks and published ports (sorted, so the text is stable). */
export function rulesetText(networks: Net[], published: PublishedPort[] = []): string {
  const nets = [...networks].sort((a, b) => (a.bridge < b.bridge ? -1 : a.bridge > b.bridge ? 1 : 0));
  const forward: string[] = [];
  const nat: string[] = [];
  const guard: string[] = [];
  const bridges = new Set(networks.map((n) => n.bridge));
  const ports = published.filter((p) => bridges.has(p.bridge)).sort((a, b) => a.hostPort - b.hostPort || (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : 0) || (a.hostIp < b.hostIp ? -1 : 1));
  const all = nets.map((n) => quote(n.bridge));
  for (const n of nets) {
    const br = quote(n.bridge);
    const others = all.filter((b) => b !== br);
    if (others.length > 0) forward.push(`iifname ${br} oifname { ${others.join(', ')} } drop`);
    if (n.internal) {
      forward.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
    } else {
      const publishes = ports.some((p) => p.bridge === n.bridge);
      forward.push(`iifname ${br} accept`, `oifname ${br} ct state established,related accept`, ...(publishes ? [`oifname ${br} ct status dnat accept`] : []), `oifname ${br} drop`);
      nat.push(`ip saddr ${n.subnet} oifname != ${br} masquerade`);
      if (publishes) nat.push(`oifname ${br} ip saddr 127.0.0.0/8 masquerade`, `oifname ${br} ip saddr ${n.subnet} ct status dnat masquerade`);
      if (n.subnet6 !== undefined) nat.push(`ip6 saddr ${n.subnet6} oifname != ${br} masquerade`);
    }
    guard.push(`iifname ${br} ip saddr 127.0.0.0/8 drop`, `iifname ${br} ip daddr 127.0.0.0/8 drop`);
  }
  const dnats = ports.map(dnat);
  const chain = (name: string, hook: string, rules: string[]): string[] => [`  chain ${name} {`, `    ${hook}`, ...rules.map((r) => `    ${r}`), '  }'];
  return [
    `table ${NFT_FAMILY} ${NFT_TABLE} {`,
    ...chain('guard', 'type filter hook prerouting priority raw; policy accept;', guard),
    ...chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', dnats),
    ...chain('output', 'type nat hook output priority -100; policy accept;', dnats),
    ...chain('forward', 'type filter hook forward priority filter; policy accept;', forward),
    ...chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', nat),
    '}',
    '',
  ].join('\n');
}

/**
 * The `nft -f -` script that replaces the table atomically: create it if missing (so the delete
 * cannot fail), delete it, add the new one, all in one transaction.
 */
export function replaceScript(networks: Net[], published: PublishedPort[] = [], extra = ''): string {
  return `table ${NFT_FAMILY} ${NFT_TABLE}\ndelete table ${NFT_FAMILY} ${NFT_TABLE}\n${rulesetText(networks, published)}${extra}`;
}

/** Another tool's chain that would drop Cunik's forwarded traffic (Docker's DOCKER-USER, or a FORWARD chain with policy drop). */
export interface ForeignChain {
  family: 'ip' | 'ip6' | 'inet';
  table: string;
  chain: string;
  /** This is where Cunik's accepts go (DOCKER-USER when it exists, else the dropping FORWARD chain). */
  target: boolean;
  /** Handles of the rules Cunik put there before (comment "cunik"): replaced by each apply. */
  cunik: number[];
}

export const FOREIGN_COMMENT = 'cunik';

/**
 * The lines, appended to replaceScript's transaction, that replace Cunik's accepts in other
 * tools' chains: delete the old ones by handle, insert one accept per direction of each
 * non-internal bridge at the top of the target chain. Accepting there is safe: a packet must
 * still pass table inet cunik's forward chain, which drops what Cunik does not allow.
 * Other rules of those chains are never touched.
 */
export function foreignScript(chains: ForeignChain[], networks: Net[]): string {
  const name = (s: string): string => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(s)) throw new Error(`not a chain or table name: ${JSON.stringify(s)}`);
    return s;
  };
  const lines: string[] = [];
  const bridges = networks.filter((n) => !n.internal).map((n) => n.bridge).sort();
  for (const c of chains) {
    const at = `${c.family} ${name(c.table)} ${name(c.chain)}`;
    for (const h of c.cunik) {
      if (!Number.isSafeInteger(h) || h < 1) throw new Error(`not a rule handle: ${h}`);
      lines.push(`delete rule ${at} handle ${h}`);
    }
    if (!c.target) continue;
    for (const b of bridges) {
      lines.push(`insert rule ${at} oifname ${quote(b)} accept comment "${FOREIGN_COMMENT}"`, `insert rule ${at} iifname ${quote(b)} accept comment "${FOREIGN_COMMENT}"`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
