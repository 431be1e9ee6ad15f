// Docker's prune endpoints onto the native prune backends (container, image, volume, network).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../../errors.js';
import { filters, nativeFilters, type Query } from './query.js';
import type { DockerBackends } from './server.js';

type Req = FastifyRequest<{ Querystring: Query }>;

export function pruneRoutes(app: FastifyInstance, b: DockerBackends): void {
  // Filters go to the native prunes as they are; each refuses a key it has not by name.
  app.post('/containers/prune', async (req: Req) => {
    const r = await b.prune.pruneInstances(nativeFilters(req.query));
    return { ContainersDeleted: r.deleted, SpaceReclaimed: r.spaceReclaimed };
  });
  app.post('/images/prune', async (req: Req) => {
    // dangling=true is what docker image prune sends without -a, dangling=false with it.
    const f = filters(req.query, ['dangling'], 'image prune');
    const dangling = f.get('dangling') ?? ['true'];
    if (dangling.some((v) => !['true', '1', 'false', '0'].includes(v))) throw invalid(`invalid filter dangling=${dangling.join(',')} (true or false)`, 'filters');
    const r = await b.prune.pruneImages(dangling.some((v) => v === 'false' || v === '0'));
    return { ImagesDeleted: [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))], SpaceReclaimed: r.spaceReclaimed };
  });
  app.post('/volumes/prune', async (req: Req) => {
    const r = await b.volumes.prune(false, nativeFilters(req.query));
    return { VolumesDeleted: r.deleted, SpaceReclaimed: r.spaceReclaimed };
  });
  app.post('/networks/prune', async (req: Req) => {
    const r = await b.networks.prune(nativeFilters(req.query));
    return { NetworksDeleted: r.deleted };
  });
}
