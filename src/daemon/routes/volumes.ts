// Volume routes: validate, call one backend method, map the result. Nothing else.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody, ForceQuery } from '../../api/schemas.js';
import { CreateVolumeRequest, PruneVolumesQuery, PruneVolumesResponse, Volume, VolumeListQuery, VolumeParams } from '../../api/volumes.js';

export interface VolumesBackend {
  list(q: VolumeListQuery): Promise<Volume[]>;
  create(req: CreateVolumeRequest): Promise<Volume>;
  inspect(name: string): Promise<Volume>;
  /** Refused while an instance uses it; `force`: a missing volume is no error. */
  remove(name: string, force: boolean): Promise<void>;
  /** Anonymous volumes no instance uses; `all`: named ones too. */
  /** `filters`: the API's text (label, label!, all). */
  prune(all: boolean, filters?: string): Promise<PruneVolumesResponse>;
}

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 500: ErrorBody };

export function volumeRoutes(app: FastifyInstance, backend: VolumesBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['volumes'];

  r.get('/volumes', { schema: { tags, summary: 'List volumes', querystring: VolumeListQuery, response: { 200: Type.Array(Volume), ...errors } } }, async (req) => backend.list(req.query));

  r.post('/volumes', { schema: { tags, summary: 'Create a volume (an existing one of that name and driver is returned)', body: CreateVolumeRequest, response: { 201: Volume, ...errors } } }, async (req, reply) =>
    reply.status(201).send(await backend.create(req.body)),
  );

  r.post('/volumes/prune', { schema: { tags, summary: 'Remove the anonymous volumes no instance uses (all: named ones too)', querystring: PruneVolumesQuery, response: { 200: PruneVolumesResponse, ...errors } } }, async (req) => backend.prune(req.query.all ?? false, req.query.filters));

  r.get('/volumes/:name', { schema: { tags, summary: 'Inspect a volume', params: VolumeParams, response: { 200: Volume, ...errors } } }, async (req) => backend.inspect(req.params.name));

  r.delete('/volumes/:name', { schema: { tags, summary: 'Remove a volume (refused while any instance uses it)', params: VolumeParams, querystring: ForceQuery, response: { 204: Type.Null({ description: 'No content' }), ...errors } } }, async (req, reply) => {
    await backend.remove(req.params.name, req.query.force ?? false);
    return reply.status(204).send(null);
  });
}
