// QEMU user-mode networking (slirp): the guest's side of it and the NIC that carries published
// ports. Pure. The addresses are slirp's defaults (QEMU's net/slirp.c: network 10.0.2.0/24, host
// and gateway 10.0.2.2, DNS 10.0.2.3, first DHCP address 10.0.2.15); they exist only inside QEMU,
// never on the host, so every instance can have the same ones.
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
 * statically (the families pass them on their command lines), matching what slirp's DHCP would hand out.
 */
export function userNetwork(ports: PortBinding[]): InstanceNetwork {
  return {
    nic: {
      backend: {
        type: 'user',
        net: USER_NET.net,
        hostfwd: ports.map((p) => ({ proto: p.proto, hostAddr: p.hostIp, hostPort: p.hostPort, guestAddr: USER_NET.ip, guestPort: p.guestPort })),
      },
    },
    ip: USER_NET.ip,
    prefix: USER_NET.prefix,
    gateway: USER_NET.gateway,
    dns: [...USER_NET.dns],
  };
}
