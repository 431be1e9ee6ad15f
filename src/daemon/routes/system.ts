// System routes: ping, version, info.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { CheckRequest, CheckResponse } from '../../api/check.js';
import { ErrorBody, InfoResponse, VersionResponse } from '../../api/schemas.js';

export interface SystemBackend {
  version(): VersionResponse;
  info(): Promise<InfoResponse>;
  /** Verify records, image store and volumes; `repair`: drop what cannot be used. */
  check(repair: boolean): Promise<CheckResponse>;
}

export function systemRoutes(app: FastifyInstance, backend: SystemBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['system'];
  r.get('/_ping', { schema: { tags, summary: 'Liveness check', produces: ['text/plain'], response: { 200: Type.String() } } }, async (_req, reply) =>
    reply.type('text/plain').send('OK'),
  );
  r.get('/version', { schema: { tags, summary: 'Daemon version', response: { 200: VersionResponse } } }, async () => backend.version());
  r.get('/info', { schema: { tags, summary: 'Daemon-wide information: accelerator, counts, root', response: { 200: InfoResponse } } }, async () => backend.info());
  r.post('/system/check', { schema: { tags, summary: 'Check instance records, every image blob against its digest, and volumes; repair drops what cannot be used', body: Type.Optional(CheckRequest), response: { 200: CheckResponse, 400: ErrorBody, 500: ErrorBody } } }, async (req) =>
    backend.check(req.body?.repair ?? false),
  );
}
