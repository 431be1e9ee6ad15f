// System routes: ping, version, info.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { InfoResponse, VersionResponse } from '../../api/schemas.js';

export interface SystemBackend {
  version(): VersionResponse;
  info(): Promise<InfoResponse>;
}

export function systemRoutes(app: FastifyInstance, backend: SystemBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['system'];
  r.get('/_ping', { schema: { tags, summary: 'Liveness check', produces: ['text/plain'], response: { 200: Type.String() } } }, async (_req, reply) =>
    reply.type('text/plain').send('OK'),
  );
  r.get('/version', { schema: { tags, summary: 'Daemon version', response: { 200: VersionResponse } } }, async () => backend.version());
  r.get('/info', { schema: { tags, summary: 'Daemon-wide information: accelerator, counts, root', response: { 200: InfoResponse } } }, async () => backend.info());
}
