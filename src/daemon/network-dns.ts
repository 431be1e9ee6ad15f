// Wires the DNS responders (network/dns) to the bridge networks and the instances: a responder on
// each network's gateway while its bridge exists, the gateway as the guests' DNS server, and the
// names of the instances attached to a user-defined network in its table for exactly as long as
// their VMs run. docs/networking.md, "Names (DNS)".
import type { EventEmitter } from 'node:events';
import type { InstanceEvent } from '../instances/service-deps.js';
import type { InstanceRecord } from '../instances/record.js';
import type { BridgeNetworks, NetworkServices } from '../network/bridge/networks.js';
import { DEFAULT_NETWORK, type NetworkRecord } from '../network/bridge/spec.js';
import type { DnsService } from '../network/dns/index.js';

/** The default network answers no instance names (as Docker's default bridge); its responder only forwards. */
export const namesOn = (net: NetworkRecord): boolean => net.name !== DEFAULT_NETWORK;

/** The instance's aliases on a network: --network-alias for its first, each network's own (--network name=N,alias=A, network connect --alias). */
export function aliasesOn(record: InstanceRecord, network: string): string[] {
  if (record.config.network === network) return [...(record.config.aliases ?? [])];
  return [...((record.config.extraNetworks ?? []).find((e) => e.network === network)?.aliases ?? [])];
}

/** What BridgeNetworks runs beside each bridge: its responder. */
export function dnsServices(dns: DnsService): NetworkServices {
  return {
    up: (net) => dns.start({ name: net.name, gateway: net.gateway, subnet: net.subnet, internal: net.internal }),
    down: (net) => dns.stop(net.name),
  };
}

export interface DnsWiring {
  dns: DnsService;
  networks: BridgeNetworks;
  instances: EventEmitter<{ event: [InstanceEvent] }>;
  /** The instance's record; undefined once it is gone. */
  record(id: string): InstanceRecord | undefined;
  log: (line: string) => void;
}

export function wireDns({ dns, networks, instances, record, log }: DnsWiring): void {
  const serving = (network: string): boolean => dns.listening().some((l) => l.network === network);
  // A network whose responder could not bind (a warning at daemon start) gives its guests none.
  networks.dnsFor = (net) => (serving(net.name) ? [net.gateway] : []);
  networks.on('member', (e) => {
    if (!namesOn(e.network) || !serving(e.network.name)) return;
    if (e.action === 'detach') {
      dns.unregister(e.network.name, e.instanceId);
      return;
    }
    const r = record(e.instanceId);
    if (r === undefined) return;
    try {
      dns.register(e.network.name, { id: r.id, name: r.name, aliases: aliasesOn(r, e.network.name), ipv4: e.ip, ...(e.ip6 !== undefined && { ipv6: e.ip6 }), ...(r.config.dns !== undefined && { upstreams: r.config.dns }) });
    } catch (err) {
      log(`warning: DNS for network ${e.network.name}: ${(err as Error).message}`);
    }
  });
  // The VM's exit (stop, kill, a crash) and rm take the name away at once, before the tap goes
  // (the detach that follows runs `ip` first): the very next query no longer finds it.
  instances.on('event', (e) => {
    if (e.action === 'rename') {
      // The new name answers and the old one no longer does, from the very next query.
      const r = record(e.id);
      for (const l of r === undefined ? [] : dns.listening()) {
        const now = dns.endpoints(l.network).find((x) => x.id === e.id);
        try {
          if (now !== undefined) dns.register(l.network, { ...now, name: r!.name, aliases: aliasesOn(r!, l.network) });
        } catch (err) {
          log(`warning: DNS for network ${l.network}: ${(err as Error).message}`);
        }
      }
      return;
    }
    if (e.action !== 'die' && e.action !== 'destroy') return;
    for (const l of dns.listening()) dns.unregister(l.network, e.id);
  });
}
