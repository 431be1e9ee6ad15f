// What a family adapter gets for an instance (InstanceBootConfig), built from the record's config,
// the network of this start and host facts. Pure, unit-tested.
import type { NetworkSettings, PortBinding } from '../api/schemas.js';
import type { InstanceBootConfig } from '../families/types.js';
import { USER_NET, userNetwork } from '../network/user.js';
import type { InstanceRecord } from './record.js';

export interface HostFacts {
  /** The host's TSC frequency (families/host.ts: hostTscKhz()). */
  tscKhz?: number | undefined;
}

/**
 * The instance's network for one start: in user mode slirp's fixed guest settings and the ports
 * as bound (`ports`, hostPort never 0); with 'none' no NIC.
 */
export function networkSettings(config: InstanceRecord['config'], ports: PortBinding[]): NetworkSettings {
  if ((config.network ?? 'none') === 'none') return { mode: 'none', ipAddress: null, prefixLen: null, gateway: null, dns: [], ports: [] };
  return { mode: 'user', ipAddress: USER_NET.ip, prefixLen: USER_NET.prefix, gateway: USER_NET.gateway, dns: [...USER_NET.dns], ports };
}

export function bootConfig(config: InstanceRecord['config'], network: NetworkSettings, host: HostFacts = {}): InstanceBootConfig {
  return {
    args: config.args,
    env: config.env,
    memoryMiB: config.memoryMiB,
    cpus: config.cpus,
    ...(network.mode === 'user' && { networks: [userNetwork(network.ports)] }),
    ...(host.tscKhz !== undefined && { tscKhz: host.tscKhz }),
  };
}
