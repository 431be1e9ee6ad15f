// docker system df and docker builder prune onto the native disk usage, lists and build cache
// prune. The docker CLI computes its table from the lists (docker/cli's system df): images with
// their container counts, containers with their sizes, volumes with their usage, build cache
// records.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { InstanceSummary } from '../../api/schemas.js';
import { CunikError } from '../../errors.js';
import { filters, flag, many, type Query } from './query.js';
import type { DockerBackends } from './server.js';
import { containerSummary, imageSummary, volumeView } from './view.js';

type Req = FastifyRequest<{ Querystring: Query }>;
const TYPES = ['container', 'image', 'volume', 'build-cache'];

export function systemRoutes(app: FastifyInstance, b: DockerBackends): void {
  app.get('/system/df', async (req: Req) => {
    // API 1.42+: type= asks for some of the lists only.
    const types = many(req.query, 'type');
    for (const t of types) if (!TYPES.includes(t)) throw new CunikError('INVALID_ARGUMENT', `invalid type: ${t} (one of ${TYPES.join(', ')})`, 'type');
    const want = (t: string): boolean => types.length === 0 || types.includes(t);
    const containers = JSON.parse(await b.instances.listJson(true, undefined, want('container'))) as InstanceSummary[];
    const users = new Map<string, number>();
    for (const c of containers) users.set(c.imageId, (users.get(c.imageId) ?? 0) + 1);
    const images = b.images.list();
    const out: Record<string, unknown> = { LayersSize: images.reduce((n, i) => n + i.size, 0) };
    if (want('image')) out['Images'] = images.map((i) => ({ ...imageSummary(i), SharedSize: 0, Containers: users.get(i.id) ?? 0 }));
    if (want('container')) out['Containers'] = containers.map((c) => containerSummary(c, 'default'));
    if (want('volume')) {
      const volumes = await b.volumes.list({});
      // Block volumes: their size; shared folders: unknown (-1, which docker leaves out).
      out['Volumes'] = volumes.map((v) => ({ ...volumeView(v), UsageData: { Size: v.size ?? -1, RefCount: v.usedBy.length } }));
    }
    if (want('build-cache')) {
      const entries = (await b.prune.diskUsage(true)).buildCache?.entries ?? [];
      out['BuildCache'] = entries.map((e) => ({
        // BuildKit's own types: a step's record is "regular", the build context's "source.local".
        ID: e.id, Parents: null, Type: e.type === 'context' ? 'source.local' : 'regular', Description: e.type === 'context' ? 'cunik build context file' : 'cunik build step', InUse: false, Shared: e.inUse,
        // Docker's Size is what the record holds alone; shared bytes are the image's.
        Size: e.inUse ? e.reclaimable : e.size, CreatedAt: e.createdAt, LastUsedAt: e.lastUsedAt, UsageCount: 1,
      }));
    }
    return out;
  });

  app.post('/build/prune', async (req: Req) => {
    // docker builder prune: all, filters until (the Go client sends it as until=DURATION too).
    const f = filters(req.query, ['until', 'unused-for'], 'builder prune');
    const until = [...(f.get('until') ?? []), ...(f.get('unused-for') ?? [])];
    const r = await b.prune.pruneBuildCache(flag(req.query, 'all'), until.length ? JSON.stringify({ until }) : undefined);
    return { CachesDeleted: r.deleted, SpaceReclaimed: r.spaceReclaimed };
  });
}
