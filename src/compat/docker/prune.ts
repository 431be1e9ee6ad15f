// Docker's prune endpoints onto the native prune backends (container, image, volume, network).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../../errors.js';
import { filters, nativeFilters, type Query } from './query.js';
import type { DockerBackends } from './server.js';

type Req = FastifyRequest<{ Querystring: Query }>;

export function pruneRoutes(app: FastifyInstance, b: DockerBackends): void {
  // The native prunes take no filters (but networks): any given is refused by name.
  app.post('/containers/prune', async (req: Req) => {
    filters(req.query, [], 'container prune');
    const r = await b.prune.pruneInstances();
    return { ContainersDeleted: r.deleted, SpaceReclaimed: r.spaceReclaimed };
  });
  app.post('/images/prune', async (req: Req) => {
    // dangling=true is what docker image prune sends without -a: the native prune's own rule.
    const f = filters(req.query, ['dangling'], 'image prune');
    if (f.get('dangling')?.some((v) => v !== 'true' && v !== '1')) throw invalid('image prune -a is not supported: the native prune deletes dangling images only (untag, then prune)', 'filters');
    const r = await b.prune.pruneImages();
    return { ImagesDeleted: [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))], SpaceReclaimed: r.spaceReclaimed };
  });
  app.post('/volumes/prune', async (req: Req) => {
    const f = filters(req.query, ['all'], 'volume prune');
    const r = await b.volumes.prune(f.get('all')?.[0] === 'true' || f.get('all')?.[0] === '1');
    return { VolumesDeleted: r.deleted, SpaceReclaimed: r.spaceReclaimed };
  });
  app.post('/networks/prune', async (req: Req) => {
    const r = await b.networks.prune(nativeFilters(req.query));
    return { NetworksDeleted: r.deleted };
  });
}
