// Wires the bridge networks (network/bridge/networks.ts) to the narrow backend the network routes
// declare; which instances use a network comes from the instances service.
import type { Network } from '../api/networks.js';
import { invalid } from '../errors.js';
import type { InstanceService } from '../instances/service.js';
import type { BridgeNetworks } from '../network/bridge/networks.js';
import { type FilterSubject, LS_FILTERS, matchesFilters, parseNetworkFilters, PRUNE_FILTERS } from '../network/bridge/filter.js';
import { DEFAULT_NETWORK, NO_BRIDGE, type NetworkRecord } from '../network/bridge/spec.js';
import type { NetworksBackend } from './routes/networks.js';


export function makeNetworksBackend(networks: BridgeNetworks | undefined, instances: Pick<InstanceService, 'list' | 'connect' | 'disconnect'>): NetworksBackend {
  const nets = (): BridgeNetworks => {
    if (networks === undefined) throw invalid(NO_BRIDGE, 'network');
    return networks;
  };
  const view = (n: NetworkRecord): Network => {
    const byId = new Map(instances.list(true).map((r) => [r.id, r.name]));
    const members = nets().allocations(n.id).flatMap((a) => (byId.has(a.instanceId) ? [{ id: a.instanceId, name: byId.get(a.instanceId)!, ipAddress: a.ip, ...(a.ip6 !== undefined && { ipv6Address: a.ip6 }) }] : []));
    return { ...n, instances: members };
  };
  const subject = (net: NetworkRecord): FilterSubject => ({ net, inUse: networkUsers(instances, net.name).length > 0, builtin: net.name === DEFAULT_NETWORK });
  return {
    list: async (filters) => {
      const f = parseNetworkFilters(filters, LS_FILTERS, 'network ls');
      if (networks === undefined) return [];
      return networks.list().filter((net) => matchesFilters(subject(net), f)).map(view);
    },
    create: async (req) => view(await nets().create(req)),
    inspect: async (ref) => view(nets().get(ref)),
    remove: (ref) => nets().remove(ref, (name) => networkUsers(instances, name)),
    prune: async (filters) => {
      const f = parseNetworkFilters(filters, PRUNE_FILTERS, 'network prune');
      const deleted: string[] = [];
      // The default network is the daemon's (Docker never prunes its builtins); remove() checks
      // the users again in its queue, so an instance created meanwhile keeps its network.
      for (const net of nets().list().filter((n) => n.name !== DEFAULT_NETWORK)) {
        if (!matchesFilters(subject(net), f)) continue;
        try {
          await nets().remove(net.id, (name) => networkUsers(instances, name));
          deleted.push(net.name);
        } catch (err) {
          if ((err as { code?: string }).code !== 'CONFLICT' && (err as { code?: string }).code !== 'NOT_FOUND') throw err;
        }
      }
      return { deleted };
    },
    // By the network's own name (a ref may be an id prefix): what the instance's record holds.
    connect: async (ref, req) => void (await instances.connect(req.instance, { network: ref === DEFAULT_NETWORK ? ref : nets().get(ref).name, ip: req.ip, ip6: req.ip6, macAddress: req.macAddress, aliases: req.aliases })),
    disconnect: async (ref, req) => {
      const name = ref === DEFAULT_NETWORK ? ref : nets().get(ref).name;
      await instances.disconnect(req.instance, name);
    },
  };
}

/** Names of the instances (any state) whose config names the network. */
export function networkUsers(instances: Pick<InstanceService, 'list'>, name: string): string[] {
  return instances.list(true).filter((r) => r.config.network === name || (r.config.extraNetworks ?? []).some((e) => e.network === name)).map((r) => r.name).reverse();
}
