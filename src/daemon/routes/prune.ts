// Pruning and disk usage: POST /instances/prune, POST /images/prune, GET /system/df.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../../api/schemas.js';
import { DiskUsageResponse, PruneImagesResponse, PruneInstancesResponse } from '../../api/prune.js';

export interface PruneBackend {
  pruneInstances(): Promise<PruneInstancesResponse>;
  pruneImages(): Promise<PruneImagesResponse>;
  diskUsage(): Promise<DiskUsageResponse>;
}

const errors = { 400: ErrorBody, 500: ErrorBody };

export function pruneRoutes(app: FastifyInstance, backend: PruneBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/instances/prune', { schema: { tags: ['instances'], summary: 'Remove every stopped (created or exited) instance', response: { 200: PruneInstancesResponse, ...errors } } }, async () =>
    backend.pruneInstances(),
  );
  r.post('/images/prune', { schema: { tags: ['images'], summary: 'Delete dangling images: no tag, and no instance uses them', response: { 200: PruneImagesResponse, ...errors } } }, async () =>
    backend.pruneImages(),
  );
  r.get('/system/df', { schema: { tags: ['system'], summary: 'Disk usage of images and instances, and what pruning would reclaim', response: { 200: DiskUsageResponse, ...errors } } }, async () =>
    backend.diskUsage(),
  );
}
