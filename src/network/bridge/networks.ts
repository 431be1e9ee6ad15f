// Bridge networks: their records (one JSON file each under <root>/networks/, written with the one
// atomic write helper), the IPAM (ipam.ts), and the host side (host.ts) kept in step with them:
// each network's bridge with its gateway address, a tap per attached instance, Cunik's nftables
// table. Attachments live as long as the instance's VM: attach at each start, detach at its exit
// (and at rm). reconcile() at daemon start removes whatever a crash left for instances that are
// no longer running. Membership changes are emitted ('member'), for the DNS responder.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, CunikError, invalid, notFound } from '../../errors.js';
import { atomicWriteFile, fsyncDir, TMP_PREFIX } from '../../util/atomic-write.js';
import { PerInstanceQueue } from '../../util/keyed-queue.js';
import { formatSubnet, intToIp, ipToInt, parseSubnet } from './cidr.js';
import { parseSubnet6 } from './cidr6.js';
import type { BridgeHost } from './host.js';
import { Ipam } from './ipam.js';
import { NftFirewall, type Firewall } from './firewall.js';
import type { PublishedPort } from './nft.js';
import type { PortBinding } from '../../api/schemas.js';
import { BRIDGE_PREFIX, checkStaticIp, checkStaticIp6, DEFAULT_BRIDGE, DEFAULT_NETWORK, DEVICE_PREFIX, networkSpec, parseIp6, type NetworkRecord, type NetworkRequest } from './spec.js';

/**
 * Taps are `cunikt` + the first 9 hex digits of the instance id (15 bytes: IFNAMSIZ - 1) for its
 * first NIC; NIC n > 0 (a second network) has 8 digits and a letter from g on (`cunikt01234567g`),
 * never a hex digit, so no tap of one instance's can be another's first.
 */
export const TAP_PREFIX = 'cunikt';
/** NICs (networks) an instance may have: the first and MAX_EXTRA_NETWORKS more (api/schemas.ts). */
export const MAX_NICS = 8;
export const tapName = (instanceId: string, nic = 0): string =>
  nic === 0 ? `${TAP_PREFIX}${instanceId.slice(0, 9)}` : `${TAP_PREFIX}${instanceId.slice(0, 8)}${String.fromCharCode(0x66 + nic)}`;
const tapsOf = (instanceId: string): string[] => Array.from({ length: MAX_NICS }, (_, i) => tapName(instanceId, i));

/** One network an instance joins at a start: its name, and the fixed address and MAC asked for. */
export interface Endpoint {
  network: string;
  ip?: string | undefined;
  /** A fixed IPv6 address (run --ip6), canonical. */
  ip6?: string | undefined;
  macAddress?: string | undefined;
  /** Its names in the network's DNS beyond the instance's own (not the bridge's business: the DNS wiring's). */
  aliases?: string[] | undefined;
  /** false: no IPv6 address even on an --ipv6 network (the guest's family cannot take one). */
  ipv6?: boolean | undefined;
}

/** A locally administered unicast MAC from the guest's address: 02:43:a:b:c:d. */
const isV6 = (ip: string): boolean => ip.includes(':');

/** The bridge's addresses: the gateway in the subnet (ADDR/PREFIX), and the IPv6 gateway if the network has one. */
const bridgeAddresses = (n: NetworkRecord): [string, string?] =>
  n.subnet6 !== undefined && n.gateway6 !== undefined ? [`${n.gateway}/${parseSubnet(n.subnet).prefix}`, `${n.gateway6}/${parseSubnet6(n.subnet6).prefix}`] : [`${n.gateway}/${parseSubnet(n.subnet).prefix}`];

export const macFor = (ip: string): string => ['02', '43', ...ip.split('.').map((n) => Number(n).toString(16).padStart(2, '0'))].join(':');

/** What an instance gets on a network for one run of its VM. */
export interface Attachment {
  network: string;
  tap: string;
  ip: string;
  /** Derived from the address (as Docker's 02:42:...), so no two guests of a network share one. */
  mac: string;
  prefix: number;
  gateway: string;
  dns: string[];
  /** On a network made with --ipv6 (and a family that takes it): the guest's IPv6 address, prefix and gateway. */
  ip6?: string;
  prefix6?: number;
  gateway6?: string;
}

/** An instance joined or left a network: what a DNS responder answers for (on `gateway`). */
export interface MemberEvent {
  action: 'attach' | 'detach';
  network: NetworkRecord;
  instanceId: string;
  ip: string;
  /** Its IPv6 address on the network, if it has one (attach only). */
  ip6?: string;
}

export interface BridgeNetworksOptions {
  /** <daemon root>/networks */
  dir: string;
  host: BridgeHost;
  /** Where the rules go (firewall.ts); default: nftables through `host`. */
  firewall?: Firewall;
  /** Owner of the taps: the VM user (QEMU opens its tap as root before -runas; the owner keeps it usable as that user). */
  tapOwner?: { uid: number; gid: number };
  /** The default network's bridge address, ADDR/PREFIX (cunikd --bip); default the first free /24 of the pool. */
  bip?: string;
  pool?: string;
  /** What runs beside each network's bridge (the DNS responder): up once the bridge has its address, down before it goes. */
  services?: NetworkServices;
  log?: (line: string) => void;
}

/** A per-network service of the daemon's; `up` may fail a network's create (one line), never its removal. */
export interface NetworkServices {
  up(net: NetworkRecord): Promise<void>;
  down(net: NetworkRecord): Promise<void>;
}

export class BridgeNetworks extends EventEmitter<{ member: [MemberEvent] }> {
  private readonly records = new Map<string, NetworkRecord>();
  private readonly ipam: Ipam;
  /** Per instance, its attach/detach in the order they were asked for. */
  private readonly queue = new PerInstanceQueue();
  /** Instances attached since this daemon started: the reconcile leaves their taps and addresses alone. */
  private readonly touched = new Set<string>();
  /** Per instance, the taps this daemon made for its current run (one per NIC). */
  private readonly taps = new Map<string, string[]>();
  /** Network changes (create, remove, the default's creation) one at a time. */
  private changes: Promise<unknown> = Promise.resolve();
  /** The DNS servers guests are given; the DNS responder sets it (default none). */
  dnsFor: (net: NetworkRecord) => string[] = () => [];
  forwardingEnabled = false;
  /** Per instance, the ports it publishes on its network this run (also on disk: ports/<id>.json, for a restarted daemon). */
  private readonly published = new Map<string, PublishedPort[]>();
  /** Rule applications one at a time, each writing the state as it is when it runs. */
  private rules: Promise<unknown> = Promise.resolve();
  forwarding6Enabled = false;

  constructor(private readonly opts: BridgeNetworksOptions) {
    super();
    this.ipam = new Ipam(join(opts.dir, 'ipam'));
  }

  private recordPath(id: string): string {
    return join(this.opts.dir, `${id}.json`);
  }

  private portsDir(): string {
    return join(this.opts.dir, 'ports');
  }

  /** Load the records and published ports (a crash's temp files are dropped). */
  load(): void {
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
    mkdirSync(this.portsDir(), { recursive: true, mode: 0o700 });
    for (const f of readdirSync(this.portsDir())) {
      const path = join(this.portsDir(), f);
      if (f.startsWith(TMP_PREFIX) || !f.endsWith('.json')) unlinkSync(path);
      else this.published.set(f.slice(0, -'.json'.length), JSON.parse(readFileSync(path, 'utf8')) as PublishedPort[]);
    }
    for (const f of readdirSync(this.opts.dir)) {
      if (f.startsWith(TMP_PREFIX)) unlinkSync(join(this.opts.dir, f));
      else if (f.endsWith('.json')) {
        const r = JSON.parse(readFileSync(join(this.opts.dir, f), 'utf8')) as NetworkRecord;
        this.records.set(r.id, r);
      }
    }
  }

  list(): NetworkRecord[] {
    return [...this.records.values()].sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  }

  /** By name, full id or unique id prefix. */
  get(ref: string): NetworkRecord {
    for (const r of this.records.values()) if (r.name === ref || r.id === ref) return r;
    const matches = [...this.records.values()].filter((r) => r.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw invalid(`ambiguous network id prefix: ${ref} matches ${matches.length} networks`);
    throw notFound(`no such network: ${ref}`);
  }

  /** Whether `name` can be given to --network (the default network is made when first needed). */
  check(name: string, ip?: string, ip6?: string): void {
    if (name === DEFAULT_NETWORK && !this.has(name)) {
      if (ip !== undefined) throw invalid(`--ip needs a user-defined network (Docker's rule): the default network's addresses are assigned`, 'ip');
      if (ip6 !== undefined) throw invalid(`--ip6 needs a user-defined network made with --ipv6: the default network has no IPv6`, 'ip6');
      return;
    }
    const net = this.get(name);
    if (ip !== undefined) checkStaticIp(net, ip);
    if (ip6 !== undefined) checkStaticIp6(net, ip6);
  }

  /** Whether `name` is an --internal network (the default network, made or not, never is). */
  isInternal(name: string): boolean {
    return name === DEFAULT_NETWORK && !this.has(name) ? false : this.get(name).internal;
  }

  private has(name: string): boolean {
    return [...this.records.values()].some((r) => r.name === name);
  }

  create(req: NetworkRequest): Promise<NetworkRecord> {
    return this.change(() => this.make(req, false));
  }

  private async make(req: NetworkRequest, isDefault: boolean): Promise<NetworkRecord> {
    const id = randomBytes(32).toString('hex');
    let request = req;
    if (isDefault && this.opts.bip !== undefined) {
      const [addr, prefix] = this.opts.bip.split('/');
      const subnet = parseSubnet(`${intToIp(ipToInt(addr!) - (ipToInt(addr!) % 2 ** (32 - Number(prefix))))}/${prefix}`, 'bip');
      request = { ...req, subnet: formatSubnet(subnet), gateway: addr };
    }
    const routes = request.subnet === undefined ? await this.opts.host.routes() : [];
    const record: NetworkRecord = { ...networkSpec(request, this.list(), routes, { id, ...(this.opts.pool !== undefined && { pool: this.opts.pool }), defaultNetwork: isDefault }), createdAt: new Date().toISOString() };
    try {
      await this.opts.host.ensureBridge(record.bridge, ...bridgeAddresses(record));
      await this.opts.services?.up(record);
      this.records.set(id, record);
      await this.applyRules();
      await atomicWriteFile(this.recordPath(id), `${JSON.stringify(record, null, 2)}\n`, 0o600);
    } catch (err) {
      // Nothing half-made: no record, no bridge, the rules as they were.
      this.records.delete(id);
      await this.opts.services?.down(record).catch(() => undefined);
      await this.opts.host.deleteLink(record.bridge).catch(() => undefined);
      await this.applyRules().catch(() => undefined);
      throw err;
    }
    return record;
  }

  /** Remove a network; refused while `users` (instance names) is not empty. */
  remove(ref: string, users: (name: string) => string[]): Promise<void> {
    return this.change(async () => {
      const net = this.get(ref);
      const using = users(net.name);
      if (using.length > 0) throw conflict(`network ${net.name} is in use by ${using.length === 1 ? 'instance' : 'instances'} ${using.join(', ')}`);
      unlinkSync(this.recordPath(net.id));
      fsyncDir(this.opts.dir);
      this.records.delete(net.id);
      this.ipam.dropNetwork(net.id);
      await this.opts.services?.down(net).catch((err: Error) => this.opts.log?.(`warning: ${err.message}`));
      await this.opts.host.deleteLink(net.bridge);
      await this.applyRules();
    });
  }

  private change<T>(op: () => Promise<T>): Promise<T> {
    const next = this.changes.then(op, op);
    this.changes = next.catch(() => undefined);
    return next;
  }

  private serial<T>(instanceId: string, op: () => Promise<T>): Promise<T> {
    return this.queue.run(instanceId, op);
  }

  /** The whole table, replaced in one transaction; no networks: no table at all. */
  private applyRules(): Promise<void> {
    const next = this.rules.then(() => this.writeRules());
    this.rules = next.catch(() => undefined);
    return next;
  }

  private async writeRules(): Promise<void> {
    const nets = this.list();
    if (nets.length === 0) return this.firewall.remove();
    if (nets.some((n) => !n.internal) && !this.forwardingEnabled) {
      if (await this.opts.host.enableForwarding()) {
        this.forwardingTurnedOn = true;
        this.opts.log?.('IPv4 forwarding turned on (net.ipv4.ip_forward=1) for the egress of bridge networks');
      }
      this.forwardingEnabled = true;
    }
    if (nets.some((n) => !n.internal && n.subnet6 !== undefined) && !this.forwarding6Enabled) {
      if (await this.opts.host.enableForwarding6()) this.opts.log?.('IPv6 forwarding turned on (net.ipv6.conf.all.forwarding=1) for the egress of bridge networks with --ipv6');
      this.forwarding6Enabled = true;
    }
    await this.firewall.apply(nets, [...this.published.values()].flat());
  }

  /** Whether IPv4 forwarding is on, and whether Cunik turned it on (cunik info). */
  forwarding(): { enabled: boolean; byCunik: boolean } {
    return { enabled: this.opts.host.forwarding(), byCunik: this.forwardingTurnedOn };
  }

  private forwardingTurnedOn = false;

  /** The firewall driver in use (cunik info). */
  get firewall(): Firewall {
    this.fw ??= this.opts.firewall ?? new NftFirewall(this.opts.host);
    return this.fw;
  }

  private fw: Firewall | undefined;

  private async publish(instanceId: string, ports: PublishedPort[]): Promise<void> {
    const path = join(this.portsDir(), `${instanceId}.json`);
    if (ports.length === 0) {
      if (!this.published.delete(instanceId)) return;
      unlinkSync(path);
    } else {
      mkdirSync(this.portsDir(), { recursive: true, mode: 0o700 });
      await atomicWriteFile(path, `${JSON.stringify(ports)}\n`, 0o600);
      this.published.set(instanceId, ports);
    }
    await this.applyRules();
  }

  /** Join the instance's next run to a network: an address (`ip` or the next free one) and a tap on its bridge. */
  async attach(instanceId: string, name: string, ip?: string, ports: PortBinding[] = []): Promise<Attachment> {
    return (await this.attachAll(instanceId, [{ network: name, ip }], ports))[0]!;
  }

  /**
   * Join the instance's next run to its networks, one NIC each in this order (NIC i's tap is
   * tapName(id, i)), and publish its ports (host ports already chosen and checked: probe.ts) to its
   * address on the first network that is not --internal (create refuses ports when all are). All
   * or nothing: if one cannot be joined, none stays joined.
   */
  attachAll(instanceId: string, endpoints: Endpoint[], ports: PortBinding[] = []): Promise<Attachment[]> {
    this.touched.add(instanceId);
    return this.serial(instanceId, async () => {
      // What an earlier run left (a crash between its exit and the detach) goes first.
      await this.release(instanceId);
      const made: Attachment[] = [];
      try {
        for (const [i, e] of endpoints.entries()) made.push(await this.join(instanceId, e, i));
      } catch (err) {
        await this.release(instanceId);
        throw err;
      }
      if (ports.length > 0 && made[0] !== undefined) {
        const first = made.find((m) => !this.get(m.network).internal) ?? made[0];
        const net = this.get(first.network);
        try {
          if (net.internal) throw invalid(`network ${net.name} is internal: nothing reaches its instances, so they cannot publish ports`, 'ports');
          await this.publish(instanceId, ports.map((p) => ({ bridge: net.bridge, proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, guestIp: first.ip, guestPort: p.guestPort })));
        } catch (err) {
          await this.release(instanceId).catch(() => undefined);
          throw err instanceof CunikError ? err : new CunikError('INTERNAL', `cannot publish ports on network ${net.name}: ${(err as Error).message}`);
        }
      }
      return made;
    });
  }

  /** Join one more network while the VM runs (network connect: a hotplugged NIC `nic`). */
  attachOne(instanceId: string, endpoint: Endpoint, nic: number): Promise<Attachment> {
    this.touched.add(instanceId);
    return this.serial(instanceId, () => this.join(instanceId, endpoint, nic));
  }

  /** Leave one network (network disconnect of a running instance): its tap and address go. */
  detachOne(instanceId: string, network: string, nic: number): Promise<void> {
    return this.serial(instanceId, async () => {
      const net = this.get(network);
      await this.opts.host.deleteLink(tapName(instanceId, nic));
      this.forgetTap(instanceId, tapName(instanceId, nic));
      for (const a of this.ipam.list().filter((x) => x.network === net.id && x.instanceId === instanceId)) {
        this.ipam.releaseFile(a.network, a.ip);
        if (!isV6(a.ip)) this.emit('member', { action: 'detach', network: net, instanceId, ip: a.ip });
      }
    });
  }

  private async join(instanceId: string, e: Endpoint, nic: number): Promise<Attachment> {
    if (e.network === DEFAULT_NETWORK && !this.has(e.network)) {
      await this.change(() => (this.has(e.network) ? Promise.resolve(this.get(e.network)) : this.make({ name: e.network }, true)));
    }
    const net = this.get(e.network);
    if (e.ip !== undefined) checkStaticIp(net, e.ip);
    if (e.ip6 !== undefined) checkStaticIp6(net, e.ip6);
    if (this.ipam.list().some((a) => a.network === net.id && a.instanceId === instanceId)) throw conflict(`the instance is already on network ${net.name}`);
    const tap = tapName(instanceId, nic);
    const address = this.ipam.allocate(net, instanceId, e.ip);
    let address6: string | undefined;
    try {
      if (net.subnet6 !== undefined && e.ipv6 !== false) address6 = this.ipam.allocate6(net, instanceId, e.ip6 !== undefined ? parseIp6(e.ip6) : undefined);
      await this.opts.host.addTap(tap, net.bridge, this.opts.tapOwner);
    } catch (err) {
      this.ipam.releaseFile(net.id, address);
      if (address6 !== undefined) this.ipam.releaseFile(net.id, address6);
      throw err instanceof CunikError ? err : new CunikError('INTERNAL', `cannot attach to network ${net.name}: ${(err as Error).message}`);
    }
    this.taps.set(instanceId, [...(this.taps.get(instanceId) ?? []).filter((t) => t !== tap), tap]);
    this.emit('member', { action: 'attach', network: net, instanceId, ip: address, ...(address6 !== undefined && { ip6: address6 }) });
    return {
      network: net.name, tap, ip: address, mac: e.macAddress ?? macFor(address), prefix: parseSubnet(net.subnet).prefix, gateway: net.gateway, dns: this.dnsFor(net),
      ...(address6 !== undefined && { ip6: address6, prefix6: parseSubnet6(net.subnet6!).prefix, gateway6: net.gateway6! }),
    };
  }

  private forgetTap(instanceId: string, tap: string): void {
    const left = (this.taps.get(instanceId) ?? []).filter((t) => t !== tap);
    if (left.length > 0) this.taps.set(instanceId, left);
    else this.taps.delete(instanceId);
  }

  /** The instance's VM is gone (or the start failed): its tap and addresses go. */
  detach(instanceId: string): Promise<void> {
    return this.serial(instanceId, () => this.release(instanceId));
  }

  private async release(instanceId: string): Promise<void> {
    // Every instance's exit comes here, and most were never on a bridge network: without an address
    // and not attached by this daemon it has no tap (the start's reconcile sweeps any other), so no
    // `ip` process is spent on it (two per call for a missing link, twice per create-start-rm cycle).
    if (!this.touched.has(instanceId) && !this.published.has(instanceId) && !this.ipam.list().some((a) => a.instanceId === instanceId)) return;
    // The taps this daemon made for it; after a restart only the first NIC's is known (the
    // start's reconcile removed every tap of an instance not running then).
    for (const tap of this.taps.get(instanceId) ?? [tapName(instanceId)]) await this.opts.host.deleteLink(tap);
    this.taps.delete(instanceId);
    await this.publish(instanceId, []);
    for (const a of this.ipam.releaseInstance(instanceId)) {
      const network = this.records.get(a.network);
      if (network && !isV6(a.ip)) this.emit('member', { action: 'detach', network, instanceId, ip: a.ip });
    }
  }

  /**
   * At daemon start, after live restore: `running` are the instances whose VMs are alive. Their
   * taps and addresses stay; every other tap, allocation and Cunik bridge goes; each network's
   * bridge is made again if missing (a reboot) and the table is rewritten from the records.
   */
  async reconcile(running: Iterable<string>): Promise<{ taps: number; addresses: number; bridges: number; ports: number }> {
    const live = new Set([...running, ...this.touched]);
    const liveTaps = new Map([...live].flatMap((id) => tapsOf(id).map((t) => [t, id] as const)));
    const out = { taps: 0, addresses: 0, bridges: 0, ports: 0 };
    const links = await this.opts.host.links(DEVICE_PREFIX);
    for (const t of links.filter((l) => l.startsWith(TAP_PREFIX))) {
      const owner = liveTaps.get(t);
      if (owner !== undefined) {
        // A running VM's taps (all its NICs) go when it exits.
        if (!(this.taps.get(owner) ?? []).includes(t)) this.taps.set(owner, [...(this.taps.get(owner) ?? []), t]);
        continue;
      }
      await this.opts.host.deleteLink(t);
      out.taps++;
    }
    for (const a of this.ipam.list()) {
      if (live.has(a.instanceId) && this.records.has(a.network)) continue;
      this.ipam.releaseFile(a.network, a.ip);
      out.addresses++;
    }
    for (const id of [...this.published.keys()]) {
      if (live.has(id)) continue;
      this.published.delete(id);
      unlinkSync(join(this.portsDir(), `${id}.json`));
      out.ports++;
    }
    const bridges = new Set(this.list().map((n) => n.bridge));
    for (const b of links.filter((l) => l.startsWith(BRIDGE_PREFIX) || l === DEFAULT_BRIDGE)) {
      if (bridges.has(b)) continue;
      await this.opts.host.deleteLink(b);
      out.bridges++;
    }
    if (this.records.size === 0) {
      // No networks: no table (one a crash left goes); a host without nft never had one.
      await this.applyRules().catch((err: Error) => this.opts.log?.(`warning: ${err.message}`));
      return out;
    }
    for (const n of this.list()) {
      await this.opts.host.ensureBridge(n.bridge, ...bridgeAddresses(n));
      // A responder that cannot bind (port 53 taken meanwhile) must not keep the daemon down: said in its log.
      await this.opts.services?.up(n).catch((err: Error) => this.opts.log?.(`warning: ${err.message}`));
    }
    await this.applyRules();
    const all = this.ipam.list();
    for (const a of all.filter((x) => !isV6(x.ip))) {
      const network = this.records.get(a.network);
      const ip6 = all.find((x) => isV6(x.ip) && x.network === a.network && x.instanceId === a.instanceId)?.ip;
      if (network) this.emit('member', { action: 'attach', network, instanceId: a.instanceId, ip: a.ip, ...(ip6 !== undefined && { ip6 }) });
    }
    return out;
  }

  /** Addresses in use per network id (inspect): the IPv4 ones, each with the instance's IPv6 one on the network if any. */
  allocations(networkId: string): { ip: string; ip6?: string; instanceId: string }[] {
    const mine = this.ipam.list().filter((a) => a.network === networkId);
    return mine.filter((a) => !isV6(a.ip)).map(({ ip, instanceId }) => {
      const ip6 = mine.find((x) => isV6(x.ip) && x.instanceId === instanceId)?.ip;
      return { ip, instanceId, ...(ip6 !== undefined && { ip6 }) };
    });
  }
}
