// Wires the bridge networks (network/bridge/networks.ts) to the narrow backend the network routes
// declare; which instances use a network comes from the instances service.
import type { Network } from '../api/networks.js';
import { invalid } from '../errors.js';
import type { InstanceService } from '../instances/service.js';
import type { BridgeNetworks } from '../network/bridge/networks.js';
import { NO_BRIDGE, type NetworkRecord } from '../network/bridge/spec.js';
import type { NetworksBackend } from './routes/networks.js';


export function makeNetworksBackend(networks: BridgeNetworks | undefined, instances: Pick<InstanceService, 'list'>): NetworksBackend {
  const nets = (): BridgeNetworks => {
    if (networks === undefined) throw invalid(NO_BRIDGE, 'network');
    return networks;
  };
  const view = (n: NetworkRecord): Network => {
    const byId = new Map(instances.list(true).map((r) => [r.id, r.name]));
    const members = nets().allocations(n.id).flatMap((a) => (byId.has(a.instanceId) ? [{ id: a.instanceId, name: byId.get(a.instanceId)!, ipAddress: a.ip }] : []));
    return { ...n, instances: members };
  };
  return {
    list: async () => (networks === undefined ? [] : networks.list().map(view)),
    create: async (req) => view(await nets().create(req)),
    inspect: async (ref) => view(nets().get(ref)),
    remove: (ref) => nets().remove(ref, (name) => networkUsers(instances, name)),
  };
}

/** Names of the instances (any state) whose config names the network. */
export function networkUsers(instances: Pick<InstanceService, 'list'>, name: string): string[] {
  return instances.list(true).filter((r) => r.config.network === name).map((r) => r.name).reverse();
}
