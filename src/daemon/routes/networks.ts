// Network routes: validate, call one backend method, map the result. Nothing else.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody } from '../../api/schemas.js';
import { ConnectRequest, CreateNetworkRequest, DisconnectRequest, Network, NetworkListQuery, NetworkParams, PruneNetworksQuery, PruneNetworksResponse } from '../../api/networks.js';

export interface NetworksBackend {
  /** `filters`: Docker's JSON map (network/bridge/filter.ts). */
  list(filters?: string): Promise<Network[]>;
  create(req: CreateNetworkRequest): Promise<Network>;
  inspect(ref: string): Promise<Network>;
  /** Refused while an instance uses it. */
  remove(ref: string): Promise<void>;
  /** Remove the user-defined networks no instance names (that match `filters`). */
  prune(filters?: string): Promise<PruneNetworksResponse>;
  /** A created or stopped instance joins the network at its next start (a running one: refused). */
  connect(ref: string, req: ConnectRequest): Promise<void>;
  disconnect(ref: string, req: DisconnectRequest): Promise<void>;
}

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 500: ErrorBody };

export function networkRoutes(app: FastifyInstance, backend: NetworksBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['networks'];
  r.get('/networks', { schema: { tags, summary: 'List bridge networks', querystring: NetworkListQuery, response: { 200: Type.Array(Network), ...errors } } }, async (req) => backend.list(req.query.filters));
  r.post('/networks/prune', { schema: { tags, summary: 'Remove the user-defined networks no instance uses', querystring: PruneNetworksQuery, response: { 200: PruneNetworksResponse, ...errors } } }, async (req) =>
    backend.prune(req.query.filters),
  );
  r.post('/networks', { schema: { tags, summary: 'Create a bridge network', body: CreateNetworkRequest, response: { 201: Network, ...errors } } }, async (req, reply) =>
    reply.status(201).send(await backend.create(req.body)),
  );
  r.get('/networks/:name', { schema: { tags, summary: 'Inspect a network', params: NetworkParams, response: { 200: Network, ...errors } } }, async (req) => backend.inspect(req.params.name));
  r.delete('/networks/:name', { schema: { tags, summary: 'Remove a network (refused while any instance uses it)', params: NetworkParams, response: { 204: Type.Null({ description: 'No content' }), ...errors } } }, async (req, reply) => {
    await backend.remove(req.params.name);
    return reply.status(204).send(null);
  });
  r.post('/networks/:name/connect', { schema: { tags, summary: 'Connect a created or stopped instance to the network (from its next start)', params: NetworkParams, body: ConnectRequest, response: { 204: Type.Null({ description: 'No content' }), ...errors } } }, async (req, reply) => {
    await backend.connect(req.params.name, req.body);
    return reply.status(204).send(null);
  });
  r.post('/networks/:name/disconnect', { schema: { tags, summary: 'Disconnect a created or stopped instance from the network', params: NetworkParams, body: DisconnectRequest, response: { 204: Type.Null({ description: 'No content' }), ...errors } } }, async (req, reply) => {
    await backend.disconnect(req.params.name, req.body);
    return reply.status(204).send(null);
  });
}
