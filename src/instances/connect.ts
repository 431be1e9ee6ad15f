// network connect/disconnect of an instance (docker network connect/disconnect), and the check
// create and connect share: every bridge network of the instance exists, takes its --ip, and the
// family can give the guest that many NICs with static addresses. A created or stopped instance's
// record changes and its next start joins the networks; a running VM cannot change its NICs
// (see docs/networking.md, "Several networks": no family's guest can configure a NIC added while
// it runs), so that is refused in one line and nothing changes.
import type { NetworkEndpoint } from '../api/schemas.js';
import { conflict, invalid } from '../errors.js';
import type { FamilyAdapter } from '../families/types.js';
import type { Endpoint } from '../network/bridge/networks.js';
import { isBridgeMode, NO_BRIDGE } from '../network/bridge/spec.js';
import type { BootSpec } from '../vmm/types.js';
import { bootConfig, checkEndpoint, checkEndpoints, endpointsOf, networkSettings, type HostFacts } from './boot-config.js';
import type { InstanceRecord } from './record.js';
import type { InstanceServiceDeps, NetworkAttacher } from './service-deps.js';

/** Refuse (one line) bridge networks that do not exist, a --ip that cannot be on them, a family that cannot join them. */
export function checkNetworks(networks: NetworkAttacher | undefined, adapter: FamilyAdapter, family: string, spec: BootSpec, config: InstanceRecord['config']): void {
  if (!isBridgeMode(config.network ?? 'none')) return;
  if (networks === undefined) throw invalid(NO_BRIDGE, 'network');
  const endpoints = endpointsOf(config);
  for (const e of endpoints) networks.check(e.network, e.ip, e.ip6);
  const fixed6 = endpoints.find((e) => e.ip6 !== undefined);
  if (fixed6 !== undefined && adapter.ipv6 !== true) throw invalid(`the ${family} family takes no IPv6 address: --ip6 ${fixed6.ip6} cannot be given to it`, 'ip6');
  const names = endpoints.map((e) => e.network).join(', ');
  // Published ports go to the first network that is not internal (BridgeNetworks.attachAll).
  if ((config.ports?.length ?? 0) > 0 && endpoints.every((e) => networks.isInternal(e.network))) {
    throw invalid(`${endpoints.length > 1 ? `networks ${names} are` : `network ${names} is`} internal: nothing reaches its instances, so they cannot publish ports`, 'ports');
  }
  if (!(spec.nics ?? []).some((n) => n.backend.type === 'tap')) throw invalid(`the ${family} family attaches no network device for this image: it cannot join network ${names}`, 'network');
  if (adapter.staticAddress === false) throw invalid(`the ${family} family configures its own addresses and cannot take the static one of network ${names} (bridge networks have no DHCP server yet): use --network user`, 'network');
  if (endpoints.length > (adapter.nics ?? 1)) throw invalid(`the ${family} family configures one network interface: it cannot join ${endpoints.length} networks (${names})`, 'network');
}

export interface ConnectContext {
  deps: Pick<InstanceServiceDeps, 'family' | 'store' | 'networks'>;
  host(): HostFacts;
}

/** A NIC cannot be added to or taken from a running VM: the sentence for both. */
function refuseRunning(record: InstanceRecord, verb: 'connect' | 'disconnect', network: string): void {
  if (record.state === 'running' || record.state === 'paused' || record.state === 'restarting') {
    throw conflict(`cannot ${verb} running instance ${record.name} ${verb === 'connect' ? 'to' : 'from'} network ${network}: a ${record.family} guest cannot ${verb === 'connect' ? 'take a new' : 'lose a'} network device while it runs; stop it first (the change applies at its next start)`);
  }
}

/** Join a created or stopped instance to one more bridge network (its next start has a NIC on it). */
export async function connectInstance(ctx: ConnectContext, record: InstanceRecord, endpoint: Endpoint): Promise<InstanceRecord> {
  const { deps } = ctx;
  if (deps.networks === undefined) throw invalid(NO_BRIDGE, 'network');
  if (record.state === 'removing') throw conflict(`instance ${record.name} is being removed`);
  deps.networks.check(endpoint.network, endpoint.ip, endpoint.ip6);
  if (!isBridgeMode(endpoint.network)) throw invalid(`cannot connect to network ${endpoint.network}: only bridge networks can be connected`, 'network');
  if (endpointsOf(record.config).some((e) => e.network === endpoint.network)) throw conflict(`instance ${record.name} is already connected to network ${endpoint.network}`);
  const mode = record.config.network ?? 'none';
  if (mode === 'user') throw conflict(`cannot connect instance ${record.name} to network ${endpoint.network}: it is on the user network, which cannot be combined with bridge networks`);
  refuseRunning(record, 'connect', endpoint.network);
  // The instance without a network gets it as its first; otherwise it is one more. The new config
  // goes through create's checks (MACs, what the family can do) before it is stored.
  const e: NetworkEndpoint = checkEndpoint({ network: endpoint.network, ...(endpoint.ip !== undefined && { ip: endpoint.ip }), ...(endpoint.ip6 !== undefined && { ip6: endpoint.ip6 }), ...(endpoint.macAddress !== undefined && { macAddress: endpoint.macAddress }), ...(endpoint.aliases !== undefined && { aliases: endpoint.aliases }) });
  const config: InstanceRecord['config'] =
    mode === 'none'
      ? { ...record.config, network: e.network, ...(e.ip !== undefined && { ip: e.ip }), ...(e.ip6 !== undefined && { ip6: e.ip6 }), ...(e.macAddress !== undefined && { macAddress: e.macAddress }), ...(e.aliases !== undefined && { aliases: e.aliases }) }
      : { ...record.config, extraNetworks: [...(record.config.extraNetworks ?? []), e] };
  checkEndpoints(config);
  const adapter = deps.family(record.family);
  const spec = adapter.bootSpec(record.boot, bootConfig(config, networkSettings(config, []), ctx.host()));
  checkNetworks(deps.networks, adapter, record.family, spec, config);
  record.config = config;
  await deps.store.save(record);
  return record;
}

/** Take a created or stopped instance off a network: its next start has no NIC there. */
export async function disconnectInstance(ctx: ConnectContext, record: InstanceRecord, network: string): Promise<InstanceRecord> {
  const { deps } = ctx;
  if (deps.networks === undefined) throw invalid(NO_BRIDGE, 'network');
  if (record.state === 'removing') throw conflict(`instance ${record.name} is being removed`);
  // An unknown network is NOT_FOUND, as Docker's; a known one the instance is not on is a conflict.
  if (network !== 'bridge') deps.networks.check(network);
  const endpoints = endpointsOf(record.config);
  const at = endpoints.findIndex((e) => e.network === network);
  if (at < 0) {
    if (network === 'bridge') deps.networks.check(network);
    throw conflict(`instance ${record.name} is not connected to network ${network}`);
  }
  refuseRunning(record, 'disconnect', network);
  const left = endpoints.filter((_, i) => i !== at);
  const [first, ...more] = left;
  const { ip: _ip, ip6: _ip6, macAddress: _mac, aliases: _aliases, extraNetworks: _extra, ...rest } = record.config;
  record.config = {
    ...rest,
    network: first?.network ?? 'none',
    ...(first?.ip !== undefined && { ip: first.ip }),
    ...(first?.ip6 !== undefined && { ip6: first.ip6 }),
    ...(first?.macAddress !== undefined && { macAddress: first.macAddress }),
    ...((first?.aliases?.length ?? 0) > 0 && { aliases: first!.aliases }),
    ...(more.length > 0 && { extraNetworks: more as NetworkEndpoint[] }),
  };
  await deps.store.save(record);
  return record;
}
