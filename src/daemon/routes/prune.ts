// Pruning and disk usage: POST /instances/prune, POST /images/prune, POST /build/prune, GET /system/df.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../../api/schemas.js';
import { DiskUsageQuery, DiskUsageResponse, PruneBuildCacheQuery, PruneBuildCacheResponse, PruneImagesQuery, PruneImagesResponse, PruneInstancesQuery, PruneInstancesResponse } from '../../api/prune.js';

export interface PruneBackend {
  /** `filters`: the API's text (until, label, label!). */
  pruneInstances(filters?: string): Promise<PruneInstancesResponse>;
  /** `all`: every image no instance uses (image prune -a), not only the untagged ones. */
  pruneImages(all?: boolean): Promise<PruneImagesResponse>;
  /** `verbose`: the build cache's entries too. */
  diskUsage(verbose?: boolean): Promise<DiskUsageResponse>;
  /** `filters`: the API's text (until only). */
  pruneBuildCache(all: boolean, filters?: string): Promise<PruneBuildCacheResponse>;
}

const errors = { 400: ErrorBody, 500: ErrorBody };

export function pruneRoutes(app: FastifyInstance, backend: PruneBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/instances/prune', { schema: { tags: ['instances'], summary: 'Remove every stopped (created or exited) instance the filters match', querystring: PruneInstancesQuery, response: { 200: PruneInstancesResponse, ...errors } } }, async (req) =>
    backend.pruneInstances(req.query.filters),
  );
  r.post('/images/prune', { schema: { tags: ['images'], summary: 'Delete dangling images (no tag, no instance uses them); with all, every image no instance uses', querystring: PruneImagesQuery, response: { 200: PruneImagesResponse, ...errors } } }, async (req) =>
    backend.pruneImages(req.query.all ?? false),
  );
  r.get('/system/df', { schema: { tags: ['system'], summary: 'Disk usage of images, instances, volumes and the build cache, and what pruning would reclaim', querystring: DiskUsageQuery, response: { 200: DiskUsageResponse, ...errors } } }, async (req) =>
    backend.diskUsage(req.query.verbose ?? false),
  );
  r.post('/build/prune', { schema: { tags: ['images'], summary: "Remove build cache entries (builder prune): those no image links, or all", querystring: PruneBuildCacheQuery, response: { 200: PruneBuildCacheResponse, ...errors } } }, async (req) =>
    backend.pruneBuildCache(req.query.all ?? false, req.query.filters),
  );
}
