// Cunik's firewall behind one interface (docs/networking.md, "Firewall drivers"): the rules that
// bridge networks and published ports need (isolation, egress NAT, DNAT, the loopback guard), kept
// in objects Cunik owns and nothing else, replaced whole at each change and removed completely.
// Two drivers: nftables (`nft`, the table inet cunik: nft.ts) and, on a host without `nft`,
// iptables-nft (Debian's `iptables`: chains CUNIK-* of its own: iptables.ts). Which one the daemon
// uses: chooseFirewall, from what is installed. test/integration/firewall-conformance.test.ts runs
// one suite against both, in network namespaces.
import { execFile } from 'node:child_process';
import { CunikError } from '../../errors.js';
import type { BridgeHost } from './host.js';
import { foreignScript, replaceScript, type PublishedPort } from './nft.js';
import type { NetworkRecord } from './spec.js';

export type FirewallNet = Pick<NetworkRecord, 'bridge' | 'subnet' | 'internal' | 'subnet6'>;

export interface Firewall {
  readonly name: 'nftables' | 'iptables-nft';
  /** Cunik's rules become exactly those of these networks and ports (at least one network). */
  apply(networks: FirewallNet[], published: PublishedPort[]): Promise<void>;
  /** No rule, chain or table of Cunik's is left; other tools' are as they were. */
  remove(): Promise<void>;
}

const INSTALL: Record<string, string> = {
  nft: 'nft (apt-get install nftables) or iptables-nft (apt-get install iptables)',
  'iptables-nft': 'iptables-nft (apt-get install iptables)',
  'iptables-nft-restore': 'iptables-nft (apt-get install iptables)',
  'ip6tables-nft': 'iptables-nft (apt-get install iptables)',
  'ip6tables-nft-restore': 'iptables-nft (apt-get install iptables)',
};

/** Runs a command (in the daemon's namespace, or through `ip netns exec NS` for tests). */
export type Exec = (cmd: string, args: string[], input?: string) => Promise<string>;

/** `netns`: run every command inside that network namespace (tests); the daemon runs in its own. */
export function execIn(netns?: string): Exec {
  return (cmd, args, input) =>
    new Promise((resolve, reject) => {
      const [file, argv] = netns === undefined ? [cmd, args] : ['ip', ['netns', 'exec', netns, cmd, ...args]];
      const child = execFile(file, argv, { encoding: 'utf8' }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new CunikError('INTERNAL', `bridge networking needs ${INSTALL[cmd] ?? cmd}, which is not installed`));
        const first = (stderr || err.message).trim().split('\n')[0];
        reject(Object.assign(new CunikError('INTERNAL', `${cmd} ${args.join(' ')}: ${first}`), { stderr }));
      });
      if (input !== undefined) child.stdin!.end(input);
    });
}

/**
 * The nftables driver: table inet cunik replaced in one `nft -f -` transaction, with Cunik's
 * accepts in Docker's DOCKER-USER (or a dropping FORWARD) in the same transaction; removed by
 * deleting the table and those accepts.
 */
export class NftFirewall implements Firewall {
  readonly name = 'nftables';
  constructor(private readonly host: Pick<BridgeHost, 'applyNft' | 'deleteTable' | 'foreignChains'>) {}

  async apply(networks: FirewallNet[], published: PublishedPort[]): Promise<void> {
    const foreign = await this.host.foreignChains();
    await this.host.applyNft(replaceScript(networks, published, foreignScript(foreign, networks)));
  }

  async remove(): Promise<void> {
    const foreign = await this.host.foreignChains();
    const ours = foreignScript(foreign.map((c) => ({ ...c, target: false })), []);
    if (ours !== '') await this.host.applyNft(ours);
    await this.host.deleteTable();
  }
}

/** What the daemon uses: nft when it is installed, else iptables-nft, else nft (whose absence is then told in one line at the first network). */
export function chooseFirewall(has: (cmd: string) => boolean): 'nftables' | 'iptables-nft' {
  if (has('nft')) return 'nftables';
  if (has('iptables-nft') && has('iptables-nft-restore')) return 'iptables-nft';
  return 'nftables';
}
