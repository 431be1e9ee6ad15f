// Address allocation for bridge networks, as CNI's host-local plugin does it: one file per address
// taken, <dir>/<network id>/<ip>, holding the instance's id, created with O_EXCL. The file system
// decides who gets an address, so two allocations (two starts at once, two daemons by mistake)
// never get the same one, and what is on disk after a crash is exactly what is allocated: a file
// whose instance is gone is swept at daemon start (the daemon's reconcile). The file is fsynced
// with its directory before the address is used.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { conflict } from '../../errors.js';
import { fsyncDir } from '../../util/atomic-write.js';
import { hostRange, intToIp, ipToInt, parseSubnet } from './cidr.js';
import { nth6, parseSubnet6 } from './cidr6.js';
import type { NetworkRecord } from './spec.js';

export interface Allocation {
  network: string;
  ip: string;
  instanceId: string;
}

const IPV4_FILE = /^\d+\.\d+\.\d+\.\d+$/;
/** IPv6 allocations are named by the canonical address (cidr6.ts), e.g. fd12:3456:789a::2. */
const IPV6_FILE = /^[0-9a-f:]+$/;
/** How many IPv6 addresses a scan tries before it calls a network full (a /64 has 2^64). */
const V6_SCAN = 65536n;

export class Ipam {
  constructor(private readonly dir: string) {}

  private netDir(networkId: string): string {
    return join(this.dir, networkId);
  }

  /** Take `wanted`, or the first free address of the network's range (not its gateway). CONFLICT when none. */
  allocate(net: NetworkRecord, instanceId: string, wanted?: string): string {
    const dir = this.netDir(net.id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (wanted !== undefined) {
      if (!this.claim(dir, wanted, instanceId)) {
        const holder = this.holder(net.id, wanted);
        if (holder === instanceId) return wanted;
        throw conflict(`address ${wanted} of network ${net.name} is already in use`);
      }
      return wanted;
    }
    const { first, last } = hostRange(parseSubnet(net.subnet), net.ipRange !== undefined ? parseSubnet(net.ipRange) : undefined);
    const gateway = ipToInt(net.gateway);
    for (let n = first; n <= last; n++) {
      if (n === gateway) continue;
      if (this.claim(dir, intToIp(n), instanceId)) return intToIp(n);
    }
    throw conflict(`no free address left in network ${net.name} (${net.ipRange ?? net.subnet})`);
  }

  /** Take `wanted` (canonical, checked: spec.ts checkStaticIp6), or the first free IPv6 address of the network's subnet6 from ::2 on (not the gateway). CONFLICT when none. */
  allocate6(net: NetworkRecord, instanceId: string, wanted?: string): string {
    if (net.subnet6 === undefined || net.gateway6 === undefined) throw conflict(`network ${net.name} has no IPv6 subnet`);
    const dir = this.netDir(net.id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (wanted !== undefined) {
      if (this.claim(dir, wanted, instanceId) || this.holder(net.id, wanted) === instanceId) return wanted;
      throw conflict(`address ${wanted} of network ${net.name} is already in use`);
    }
    const subnet = parseSubnet6(net.subnet6);
    const room = (1n << BigInt(128 - subnet.prefix)) - 1n;
    for (let n = 1n; n <= room && n <= V6_SCAN; n++) {
      const ip = nth6(subnet, n);
      if (ip === net.gateway6) continue;
      if (this.claim(dir, ip, instanceId)) return ip;
    }
    throw conflict(`no free IPv6 address left in network ${net.name} (${net.subnet6})`);
  }

  /** Create <dir>/<ip> exclusively: false if it exists. */
  private claim(dir: string, ip: string, instanceId: string): boolean {
    let fd: number;
    try {
      fd = openSync(join(dir, ip), 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      writeSync(fd, instanceId);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      unlinkSync(join(dir, ip));
      throw err;
    }
    closeSync(fd);
    fsyncDir(dir);
    return true;
  }

  /** The instance holding an address ('' for a file a crash left empty), undefined when free. */
  holder(networkId: string, ip: string): string | undefined {
    try {
      return readFileSync(join(this.netDir(networkId), ip), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  /** Every allocation on disk (of all networks, by network id). */
  list(): Allocation[] {
    let nets: string[];
    try {
      nets = readdirSync(this.dir);
    } catch {
      return [];
    }
    return nets.flatMap((network) => {
      let ips: string[];
      try {
        ips = readdirSync(this.netDir(network)).filter((f) => IPV4_FILE.test(f) || (f.includes(':') && IPV6_FILE.test(f)));
      } catch {
        return [];
      }
      return ips.map((ip) => ({ network, ip, instanceId: this.holder(network, ip) ?? '' }));
    });
  }

  /** Give back the addresses `instanceId` holds (all networks); returns them. */
  releaseInstance(instanceId: string): Allocation[] {
    const mine = this.list().filter((a) => a.instanceId === instanceId);
    for (const a of mine) this.releaseFile(a.network, a.ip);
    return mine;
  }

  /** Remove an allocation file (the reconcile's sweep of a gone instance's, or an empty one). */
  releaseFile(networkId: string, ip: string): void {
    try {
      unlinkSync(join(this.netDir(networkId), ip));
      fsyncDir(this.netDir(networkId));
    } catch {
      // gone already
    }
  }

  /** Forget a removed network's allocations (none should be left: it is refused while in use). */
  dropNetwork(networkId: string): void {
    rmSync(this.netDir(networkId), { recursive: true, force: true });
  }
}
