// User-mode networking (passt, src/network/passt.ts): the guest's side of it and the NIC that
// carries published ports. Pure. The addresses are those QEMU's slirp used (net/slirp.c: network
// 10.0.2.0/24, gateway 10.0.2.2, DNS 10.0.2.3, first DHCP address 10.0.2.15), kept so that guests
// and images made for them work unchanged; they exist only between the guest and its passt, never
// on the host, so every instance can have the same ones. Unlike slirp's, this gateway does not
// lead to the host's loopback.
import type { PortBinding } from '../api/schemas.js';
import type { InstanceNetwork } from '../families/types.js';

export const USER_NET = {
  net: '10.0.2.0/24',
  ip: '10.0.2.15',
  prefix: 24,
  gateway: '10.0.2.2',
  dns: ['10.0.2.3'],
} as const;

/**
 * The primary network of an instance in user mode, with its published ports (host ports already
 * chosen: none may be 0) forwarded to the guest's address. The guest's settings are given
 * statically (the families pass them on their command lines), matching what passt's DHCP hands out.
 */
export function userNetwork(ports: PortBinding[]): InstanceNetwork {
  return {
    nic: {
      backend: {
        type: 'passt',
        guest: { ip: USER_NET.ip, prefix: USER_NET.prefix, gateway: USER_NET.gateway, dns: USER_NET.dns[0] },
        forwards: ports.map((p) => ({ proto: p.proto, hostAddr: p.hostIp, hostPort: p.hostPort, guestPort: p.guestPort })),
      },
    },
    ip: USER_NET.ip,
    prefix: USER_NET.prefix,
    gateway: USER_NET.gateway,
    dns: [...USER_NET.dns],
  };
}
