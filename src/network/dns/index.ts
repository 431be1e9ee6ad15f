// The daemon's DNS for bridge networks: one responder per network on the network's gateway
// address, UDP and TCP port 53, answering the names of the instances on that network and
// forwarding every other name to the host's resolvers (DESIGN.md, "Networking"; docs/networking.md,
// "Names (DNS)"). Domain code: no HTTP; the daemon owns one DnsService.
//
// How the daemon uses it (the bridge network code calls these):
//   const dns = new DnsService({ log });
//   await dns.start({ name, gateway, subnets })   when a network's bridge is up (create, or daemon
//                                                 start for every network that exists); the
//                                                 gateway address must already be on the bridge
//   dns.register(network, { name, aliases, ipv4, ipv6 })   when an instance's NIC on that network
//                                                 is set up (before its VM starts, so its peers
//                                                 resolve it as soon as it runs)
//   dns.unregister(network, idOrName)             when it leaves the network (rm, stop, disconnect,
//                                                 a VM that died): the next query no longer finds it
//   dns.replace(network, endpoints)               at daemon start (live restore), after start():
//                                                 the endpoints of the instance records that are
//                                                 running on that network, so the table is exactly
//                                                 what the records say
//   await dns.stop(network)                       before the bridge is deleted (network rm)
//   await dns.stopAll()                           at daemon shutdown
// register/unregister/replace are synchronous and take effect for the very next query; they throw
// for a network that was not started (a programming error). start() throws a CunikError (CONFLICT)
// in one sentence when port 53 cannot be bound on the gateway.
import { Responder } from './server.js';
import { ResolvConf } from './upstream.js';
import { Zone, type Endpoint } from './zone.js';

export type { Endpoint } from './zone.js';
export { TTL } from './answer.js';

export interface DnsNetwork {
  /** The network's name; instances also answer as `NAME.NETWORK`. */
  name: string;
  /** The gateway's IPv4 address (on the bridge): where the responder listens. */
  gateway: string;
  /** The gateway's IPv6 address, for a network with IPv6: listened on too. */
  gateway6?: string | undefined;
  /** The network's IPv4 subnet (a bridge NetworkRecord's `subnet`), added to `subnets`. */
  subnet?: string | undefined;
  /** An `--internal` network: names that are not the network's get SERVFAIL, nothing is forwarded (Docker 26 does the same). */
  internal?: boolean | undefined;
  /**
   * The network's subnets (CIDR, IPv4 and IPv6). Only queries from these are answered, and
   * reverse (PTR) queries for addresses in them are answered here (NXDOMAIN for a free one).
   * Default (neither this nor `subnet`): the gateway's /24 (IPv4) and /64 (IPv6).
   */
  subnets?: readonly string[] | undefined;
}

export interface DnsOptions {
  /** The host's resolver configuration (tests point it at their own). Default /etc/resolv.conf. */
  resolvConf?: string;
  /** Port to listen on. Default 53. */
  port?: number;
  /** Port of the upstream servers. Default 53. */
  upstreamPort?: number;
  /** How long an upstream server gets to answer before the next is tried (SERVFAIL after the last). Default 2000 ms. */
  timeoutMs?: number;
  /** Forwarded queries in flight, all networks together, beyond which queries are dropped. Default 512. */
  maxInflight?: number;
  log?: (line: string) => void;
}

interface Running {
  zone: Zone;
  responder: Responder;
  addresses: string[];
}

export class DnsService {
  private readonly running = new Map<string, Running>();
  private readonly upstream: ResolvConf;
  private readonly inflight: { count: number; max: number };

  constructor(private readonly opts: DnsOptions = {}) {
    this.upstream = new ResolvConf(opts.resolvConf ?? '/etc/resolv.conf');
    this.inflight = { count: 0, max: opts.maxInflight ?? 512 };
  }

  /** Starts the network's responder (a no-op if it runs already with the same addresses). */
  async start(network: DnsNetwork): Promise<void> {
    const addresses = [network.gateway, ...(network.gateway6 !== undefined ? [network.gateway6] : [])];
    const had = this.running.get(network.name);
    if (had) {
      if (had.addresses.join() === addresses.join()) return;
      await this.stop(network.name);
    }
    const given = [...(network.subnet !== undefined ? [network.subnet] : []), ...(network.subnets ?? [])];
    const subnets = given.length > 0 ? given : [`${network.gateway}/24`, ...(network.gateway6 !== undefined ? [`${network.gateway6}/64`] : [])];
    const zone = new Zone(network.name, subnets);
    const responder = new Responder({
      zone,
      addresses,
      internal: network.internal === true,
      port: this.opts.port ?? 53,
      upstream: this.upstream,
      upstreamPort: this.opts.upstreamPort ?? 53,
      timeoutMs: this.opts.timeoutMs ?? 2000,
      ownAddresses: () => new Set([...this.running.values()].flatMap((r) => r.addresses)),
      inflight: this.inflight,
      log: this.opts.log ?? (() => undefined),
    });
    await responder.start();
    this.running.set(network.name, { zone, responder, addresses });
  }

  /** Stops the responder and forgets the network's names (a no-op for a network not started). */
  async stop(network: string): Promise<void> {
    const r = this.running.get(network);
    if (!r) return;
    this.running.delete(network);
    await r.responder.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((n) => this.stop(n)));
  }

  /** The instance answers on the network under its name and aliases (replacing what it had). */
  register(network: string, endpoint: Endpoint): void {
    this.zone(network).set(endpoint);
  }

  /** The instance (by the id it was registered with, or its name) no longer answers on the network; false if it was not registered. */
  unregister(network: string, idOrName: string): boolean {
    return this.zone(network).delete(idOrName);
  }

  /** The network's table becomes exactly `endpoints` (live restore). */
  replace(network: string, endpoints: readonly Endpoint[]): void {
    this.zone(network).replace(endpoints);
  }

  /** What is registered on a network. */
  endpoints(network: string): Endpoint[] {
    return this.zone(network).list();
  }

  /** The networks with a responder and the addresses each listens on (UDP and TCP, the port given). */
  listening(): { network: string; addresses: string[]; port: number }[] {
    return [...this.running].map(([network, r]) => ({ network, addresses: [...r.addresses], port: this.opts.port ?? 53 }));
  }

  private zone(network: string): Zone {
    const r = this.running.get(network);
    if (!r) throw new Error(`DNS: network ${network} has no responder (start it first)`);
    return r.zone;
  }
}
