// The iptables-nft firewall driver (firewall.ts), for a host without `nft`: the same rules as
// table inet cunik (nft.ts), in chains of Cunik's own, CUNIK-GUARD (raw), CUNIK-PREROUTING,
// CUNIK-OUTPUT, CUNIK-POSTROUTING (nat), CUNIK-FORWARD (filter) and, for IPv6 egress,
// CUNIK-POSTROUTING in ip6tables' nat, each reached by one jump at the top of the built-in chain.
// Each change is one `iptables-nft-restore --noflush` per family: declaring a chain flushes it, so
// the kernel goes from Cunik's old rules to its new ones in one transaction while every other
// chain and rule (Docker's, ufw's) stays as it is. Removal deletes the jumps, then the chains.
// An ACCEPT in CUNIK-FORWARD ends the FORWARD chain for that packet, so a FORWARD policy of drop
// (Docker's, ufw's) does not stop Cunik's traffic, and no accept in DOCKER-USER is needed.
import type { Exec, Firewall, FirewallNet } from './firewall.js';
import type { PublishedPort } from './nft.js';

/** Cunik's chains: the table, the chain, the built-in chain that jumps to it. */
export const IPT_CHAINS = [
  { table: 'raw', chain: 'CUNIK-GUARD', from: 'PREROUTING' },
  { table: 'nat', chain: 'CUNIK-PREROUTING', from: 'PREROUTING' },
  { table: 'nat', chain: 'CUNIK-OUTPUT', from: 'OUTPUT' },
  { table: 'nat', chain: 'CUNIK-POSTROUTING', from: 'POSTROUTING' },
  { table: 'filter', chain: 'CUNIK-FORWARD', from: 'FORWARD' },
] as const;
export const IPT6_CHAINS = [{ table: 'nat', chain: 'CUNIK-POSTROUTING', from: 'POSTROUTING' }] as const;

const ifname = (s: string): string => {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(s)) throw new Error(`not an interface name: ${JSON.stringify(s)}`);
  return s;
};
const ipv4 = (a: string): string => {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) throw new Error(`not an IPv4 address: ${JSON.stringify(a)}`);
  return a;
};
const cidr = (s: string): string => {
  if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(s)) throw new Error(`not a subnet: ${JSON.stringify(s)}`);
  return s;
};
const port = (n: number): number => {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`not a port: ${n}`);
  return n;
};

function dnat(p: PublishedPort): string {
  const to = p.hostIp === '0.0.0.0' ? '-m addrtype --dst-type LOCAL' : `-d ${ipv4(p.hostIp)}/32`;
  const proto = p.proto === 'udp' ? 'udp' : 'tcp';
  return `-p ${proto} ${to} -m ${proto} --dport ${port(p.hostPort)} -j DNAT --to-destination ${ipv4(p.guestIp)}:${port(p.guestPort)}`;
}

/** The iptables-restore input (IPv4 and IPv6) that makes Cunik's chains exactly these rules. Pure. */
export function iptablesScripts(networks: FirewallNet[], published: PublishedPort[]): { v4: string; v6: string } {
  const nets = [...networks].sort((a, b) => (a.bridge < b.bridge ? -1 : a.bridge > b.bridge ? 1 : 0));
  const bridges = new Set(nets.map((n) => n.bridge));
  const ports = published.filter((p) => bridges.has(p.bridge)).sort((a, b) => a.hostPort - b.hostPort || (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : 0) || (a.hostIp < b.hostIp ? -1 : 1));
  const rules: Record<string, string[]> = { 'CUNIK-GUARD': [], 'CUNIK-PREROUTING': [], 'CUNIK-OUTPUT': [], 'CUNIK-POSTROUTING': [], 'CUNIK-FORWARD': [] };
  const nat6: string[] = [];
  for (const n of nets) {
    const br = ifname(n.bridge);
    for (const other of nets.filter((o) => o.bridge !== n.bridge)) rules['CUNIK-FORWARD']!.push(`-i ${br} -o ${ifname(other.bridge)} -j DROP`);
    if (n.internal) {
      rules['CUNIK-FORWARD']!.push(`-i ${br} ! -o ${br} -j DROP`, `-o ${br} ! -i ${br} -j DROP`);
    } else {
      const publishes = ports.some((p) => p.bridge === n.bridge);
      rules['CUNIK-FORWARD']!.push(`-i ${br} -j ACCEPT`, `-o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`, ...(publishes ? [`-o ${br} -m conntrack --ctstate DNAT -j ACCEPT`] : []), `-o ${br} -j DROP`);
      rules['CUNIK-POSTROUTING']!.push(`-s ${cidr(n.subnet)} ! -o ${br} -j MASQUERADE`);
      if (publishes) rules['CUNIK-POSTROUTING']!.push(`-s 127.0.0.0/8 -o ${br} -j MASQUERADE`, `-s ${cidr(n.subnet)} -o ${br} -m conntrack --ctstate DNAT -j MASQUERADE`);
      if (n.subnet6 !== undefined) nat6.push(`-s ${cidr(n.subnet6)} ! -o ${br} -j MASQUERADE`);
    }
    rules['CUNIK-GUARD']!.push(`-i ${br} -s 127.0.0.0/8 -j DROP`, `-i ${br} -d 127.0.0.0/8 -j DROP`);
  }
  for (const p of ports) {
    rules['CUNIK-PREROUTING']!.push(dnat(p));
    rules['CUNIK-OUTPUT']!.push(dnat(p));
  }
  const v4: string[] = [];
  for (const table of ['raw', 'nat', 'filter']) {
    const chains = IPT_CHAINS.filter((c) => c.table === table);
    v4.push(`*${table}`, ...chains.map((c) => `:${c.chain} - [0:0]`), ...chains.flatMap((c) => rules[c.chain]!.map((r) => `-A ${c.chain} ${r}`)), 'COMMIT');
  }
  const v6 = ['*nat', ':CUNIK-POSTROUTING - [0:0]', ...nat6.map((r) => `-A CUNIK-POSTROUTING ${r}`), 'COMMIT'];
  return { v4: `${v4.join('\n')}\n`, v6: `${v6.join('\n')}\n` };
}

export class IptablesFirewall implements Firewall {
  readonly name = 'iptables-nft';
  constructor(private readonly exec: Exec) {}

  async apply(networks: FirewallNet[], published: PublishedPort[]): Promise<void> {
    const { v4, v6 } = iptablesScripts(networks, published);
    await this.exec('iptables-nft-restore', ['--noflush'], v4);
    await this.exec('ip6tables-nft-restore', ['--noflush'], v6);
    // The jumps, once each, at the top (after the chains exist: a jump to a missing chain is refused).
    for (const [cmd, chains] of [['iptables-nft', IPT_CHAINS], ['ip6tables-nft', IPT6_CHAINS]] as const) {
      for (const c of chains) {
        if (!(await this.jumps(cmd, c))) await this.exec(cmd, ['-w', '-t', c.table, '-I', c.from, '1', '-j', c.chain]);
      }
    }
  }

  async remove(): Promise<void> {
    for (const [cmd, chains] of [['iptables-nft', IPT_CHAINS], ['ip6tables-nft', IPT6_CHAINS]] as const) {
      for (const c of chains) {
        while (await this.jumps(cmd, c)) await this.exec(cmd, ['-w', '-t', c.table, '-D', c.from, '-j', c.chain]);
        if (await this.exists(cmd, c)) {
          await this.exec(cmd, ['-w', '-t', c.table, '-F', c.chain]);
          await this.exec(cmd, ['-w', '-t', c.table, '-X', c.chain]);
        }
      }
    }
  }

  private async jumps(cmd: string, c: { table: string; chain: string; from: string }): Promise<boolean> {
    if (!(await this.exists(cmd, c))) return false;
    return this.exec(cmd, ['-w', '-t', c.table, '-C', c.from, '-j', c.chain]).then(() => true, () => false);
  }

  private exists(cmd: string, c: { table: string; chain: string }): Promise<boolean> {
    return this.exec(cmd, ['-w', '-t', c.table, '-S', c.chain]).then(() => true, () => false);
  }
}
