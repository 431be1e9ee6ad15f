// The Engine API contract for bridge networks (GET/POST /v1/networks, GET/DELETE
// /v1/networks/{name}); Docker's shapes, camelCase.
import { Type, type Static } from 'typebox';

export const Network = Type.Object({
  id: Type.String(),
  name: Type.String(),
  driver: Type.Literal('bridge'),
  subnet: Type.String({ description: 'IPv4 subnet, e.g. 10.213.0.0/24' }),
  gateway: Type.String({ description: "The bridge's own address: the guests' default route" }),
  ipRange: Type.Optional(Type.String({ description: 'Guest addresses come from this part of the subnet' })),
  internal: Type.Boolean({ description: 'No egress beyond the bridge' }),
  subnet6: Type.Optional(Type.String({ description: 'IPv6 (created with ipv6): a unique local subnet, e.g. fd12:3456:789a::/64' })),
  gateway6: Type.Optional(Type.String({ description: "The bridge's IPv6 address: the guests' IPv6 default route" })),
  labels: Type.Record(Type.String(), Type.String()),
  bridge: Type.String({ description: "The host's bridge device" }),
  createdAt: Type.String({ format: 'date-time' }),
  instances: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), ipAddress: Type.String(), ipv6Address: Type.Optional(Type.String()) }), { description: 'Instances whose VM is on the network now, with their addresses' }),
});
export type Network = Static<typeof Network>;

export const CreateNetworkRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    driver: Type.Optional(Type.Literal('bridge')),
    subnet: Type.Optional(Type.String({ description: 'IPv4 subnet (default: a free /24 of the pool)' })),
    gateway: Type.Optional(Type.String({ description: "Default: the subnet's first address" })),
    ipRange: Type.Optional(Type.String({ description: 'A subnet inside `subnet` to take guest addresses from' })),
    internal: Type.Optional(Type.Boolean()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    ipv6: Type.Optional(Type.Boolean({ description: 'IPv6 too: guests get an address in subnet6 besides their IPv4 one' })),
    subnet6: Type.Optional(Type.String({ description: 'With ipv6: the IPv6 subnet (default: a random unique local /64, RFC 4193)' })),
    gateway6: Type.Optional(Type.String({ description: "With ipv6: the bridge's IPv6 address (default: the subnet's ::1)" })),
  },
  { additionalProperties: false },
);
export type CreateNetworkRequest = Static<typeof CreateNetworkRequest>;

export const NetworkParams = Type.Object({ name: Type.String({ minLength: 1 }) });

const Filters = Type.String({ maxLength: 4096, description: 'Docker\'s filters: a JSON object of KEY: [VALUES], e.g. {"label":["env=test"]}' });
export const NetworkListQuery = Type.Object({ filters: Type.Optional(Filters) }, { additionalProperties: false });
export type NetworkListQuery = Static<typeof NetworkListQuery>;

export const PruneNetworksQuery = Type.Object({ filters: Type.Optional(Filters) }, { additionalProperties: false });
export type PruneNetworksQuery = Static<typeof PruneNetworksQuery>;

export const PruneNetworksResponse = Type.Object({ deleted: Type.Array(Type.String(), { description: 'Names of the removed networks' }) });
export type PruneNetworksResponse = Static<typeof PruneNetworksResponse>;

export const ConnectRequest = Type.Object(
  {
    instance: Type.String({ minLength: 1, description: 'Instance name or id' }),
    ip: Type.Optional(Type.String({ description: 'A fixed IPv4 address on the network' })),
    ip6: Type.Optional(Type.String({ description: 'A fixed IPv6 address on the network (one made with --ipv6)' })),
    macAddress: Type.Optional(Type.String({ description: "The new NIC's MAC address (default: derived from its address)" })),
    aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 16, description: "More names the instance answers to in the network's DNS (network connect --alias)" })),
  },
  { additionalProperties: false },
);
export type ConnectRequest = Static<typeof ConnectRequest>;

export const DisconnectRequest = Type.Object({ instance: Type.String({ minLength: 1, description: 'Instance name or id' }) }, { additionalProperties: false });
export type DisconnectRequest = Static<typeof DisconnectRequest>;
