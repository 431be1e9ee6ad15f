// The host side of bridge networks behind a small interface: bridges with their gateway address,
// one tap per instance, Cunik's nftables table, IP forwarding. IpNftHost drives iproute2's `ip`
// and `nft` (Debian's iproute2 and nftables) in the daemon's own network namespace.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { CunikError } from '../../errors.js';
import { execIn, type Exec } from './firewall.js';
import { FOREIGN_COMMENT, NFT_FAMILY, NFT_TABLE, type ForeignChain } from './nft.js';
import { macFor } from './networks.js';

export interface BridgeHost {
  /** Destinations of the host's IPv4 routes ("default", "192.0.2.0/24", "198.51.100.7"). */
  routes(): Promise<string[]>;
  /** Make the bridge if missing, give it `address` (ADDR/PREFIX, and `address6` if given) and bring it up. */
  ensureBridge(name: string, address: string, address6?: string): Promise<void>;
  /** A tap attached to `bridge`, up, owned by `owner` (so QEMU may open it after dropping to that user). */
  addTap(name: string, bridge: string, owner?: { uid: number; gid: number }): Promise<void>;
  /** Remove a link (bridge or tap); a missing one is no error. */
  deleteLink(name: string): Promise<void>;
  /** Names of the links that start with `prefix`. */
  links(prefix: string): Promise<string[]>;
  /** Run an `nft -f -` script: one transaction. */
  applyNft(script: string): Promise<void>;
  /** Delete Cunik's table (no error if there is none). */
  deleteTable(): Promise<void>;
  /** Turn IPv4 forwarding on if it is off; true if this call turned it on. */
  enableForwarding(): Promise<boolean>;
  /** Whether IPv4 forwarding is on (cunik info). */
  forwarding(): boolean;
  /** Other tools' chains that drop forwarded traffic (nft.ts ForeignChain); none without nft. */
  foreignChains(): Promise<ForeignChain[]>;
  /** The same for IPv6 (net.ipv6.conf.all.forwarding). */
  enableForwarding6(): Promise<boolean>;
}

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return reject(new CunikError('INTERNAL', 'bridge networking needs ip (apt-get install iproute2), which is not installed'));
      const first = (stderr || err.message).trim().split('\n')[0];
      reject(Object.assign(new CunikError('INTERNAL', `${cmd} ${args.join(' ')}: ${first}`), { stderr }));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

const FORWARDING = '/proc/sys/net/ipv4/ip_forward';
const FORWARDING6 = '/proc/sys/net/ipv6/conf/all/forwarding';

export class IpNftHost implements BridgeHost {
  async routes(): Promise<string[]> {
    const out = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) || '[]') as { dst?: string; type?: string }[];
    return out.filter((r) => r.dst !== undefined && (r.type === undefined || r.type === 'unicast')).map((r) => r.dst!);
  }

  async ensureBridge(name: string, address: string, address6?: string): Promise<void> {
    if (!(await this.links(name)).includes(name)) {
      await run('ip', ['link', 'add', 'name', name, 'type', 'bridge']).catch(async (err) => {
        if (!(await this.links(name)).includes(name)) throw err; // made meanwhile: fine
      });
    }
    await run('ip', ['addr', 'replace', address, 'dev', name]);
    // A MAC of its own (from the gateway's address, as the guests' are from theirs): a bridge without
    // one takes its lowest port's, and changes it whenever that tap goes, so every other guest's ARP
    // entry for the gateway (its route, its DNS server) points nowhere for seconds.
    await run('ip', ['link', 'set', name, 'address', macFor(address.split('/')[0]!), 'up']);
    // Published ports reached through 127.0.0.1 are DNATed out of this bridge (nft.ts): the kernel
    // routes 127.0.0.0/8 sources there only with route_localnet (the guard chain keeps guests from using it).
    writeFileSync(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1\n');
    // nodad: the gateway is usable at once (no one else may hold it: the subnet is the network's).
    if (address6 !== undefined) await run('ip', ['-6', 'addr', 'replace', address6, 'dev', name, 'nodad']);
  }

  async addTap(name: string, bridge: string, owner?: { uid: number; gid: number }): Promise<void> {
    const who = owner !== undefined ? ['user', String(owner.uid), 'group', String(owner.gid)] : [];
    await run('ip', ['tuntap', 'add', 'dev', name, 'mode', 'tap', ...who]);
    try {
      await run('ip', ['link', 'set', name, 'master', bridge, 'up']);
    } catch (err) {
      await this.deleteLink(name);
      throw err;
    }
  }

  async deleteLink(name: string): Promise<void> {
    await run('ip', ['link', 'delete', name]).catch(async (err) => {
      if ((await this.links(name)).includes(name)) throw err;
    });
  }

  async links(prefix: string): Promise<string[]> {
    const out = JSON.parse((await run('ip', ['-j', 'link', 'show'])) || '[]') as { ifname: string }[];
    return out.map((l) => l.ifname).filter((n) => n.startsWith(prefix));
  }

  private readonly nft = nftOps(execIn());

  applyNft(script: string): Promise<void> {
    return this.nft.applyNft(script);
  }

  deleteTable(): Promise<void> {
    return this.nft.deleteTable();
  }

  forwarding(): boolean {
    return readFileSync(FORWARDING, 'utf8').trim() === '1';
  }

  foreignChains(): Promise<ForeignChain[]> {
    return this.nft.foreignChains();
  }

  async enableForwarding(): Promise<boolean> {
    if (readFileSync(FORWARDING, 'utf8').trim() === '1') return false;
    writeFileSync(FORWARDING, '1\n');
    return true;
  }

  async enableForwarding6(): Promise<boolean> {
    if (readFileSync(FORWARDING6, 'utf8').trim() === '1') return false;
    writeFileSync(FORWARDING6, '1\n');
    return true;
  }
}

/** The nft side of BridgeHost through `exec` (firewall.ts NftFirewall; tests give one that runs in a namespace). */
export function nftOps(exec: Exec): Pick<BridgeHost, 'applyNft' | 'deleteTable' | 'foreignChains'> {
  return {
    applyNft: async (script) => void (await exec('nft', ['-f', '-'], script)),
    deleteTable: async () => {
      await exec('nft', ['delete', 'table', NFT_FAMILY, NFT_TABLE]).catch((err: { stderr?: string; message: string }) => {
        // No such table, or no nft at all (then no table was ever made).
        if (!/No such file or directory/.test(err.stderr ?? '') && !err.message.includes('which is not installed')) throw err;
      });
    },
    foreignChains: async () => {
      try {
        return foreignChainsOf(await exec('nft', ['-j', 'list', 'table', 'ip', 'filter']));
      } catch {
        return []; // no such table (no Docker, no iptables rules), or no nft
      }
    },
  };
}

/** From `nft -j list table ip filter`: DOCKER-USER if it exists, else FORWARD if its policy drops. */
export function foreignChainsOf(json: string): ForeignChain[] {
  type Item = { chain?: { name: string; policy?: string }; rule?: { chain: string; handle: number; comment?: string } };
  const items = ((JSON.parse(json) as { nftables?: Item[] }).nftables ?? []);
  const chains = items.filter((i) => i.chain !== undefined).map((i) => i.chain!);
  const mine = (chain: string): number[] => items.filter((i) => i.rule?.chain === chain && i.rule.comment === FOREIGN_COMMENT).map((i) => i.rule!.handle);
  const dockerUser = chains.some((c) => c.name === 'DOCKER-USER');
  const out: ForeignChain[] = [];
  for (const c of chains) {
    const target = c.name === 'DOCKER-USER' || (c.name === 'FORWARD' && c.policy === 'drop' && !dockerUser);
    const cunik = mine(c.name);
    if (target || cunik.length > 0) out.push({ family: 'ip', table: 'filter', chain: c.name, target, cunik });
  }
  return out;
}
