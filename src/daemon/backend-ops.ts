// Wires events, stats, pruning and disk usage to the narrow backend interfaces their routes declare.
import type { BuildService } from '../build/service.js';
import type { EventLog } from '../events/log.js';
import { parseFilters, untilTime } from '../util/filters.js';
import { CunikError } from '../errors.js';
import { eventStream, parseEventQuery } from '../events/stream.js';
import type { ImageStore } from '../images/store.js';
import { INSTANCE_PRUNE_FILTERS, instancesUsage, pruneInstances } from '../instances/prune.js';
import type { InstanceService } from '../instances/service.js';
import { instanceStats, type StatsTarget } from '../instances/stats.js';
import type { VolumeStore } from '../volumes/store.js';
import { volumesUsage } from './backend-volumes.js';
import type { UploadSpool } from './spool.js';
import type { OpsBackends } from './server.js';

export interface OpsBackendDeps {
  instances: InstanceService;
  images: ImageStore;
  events: EventLog;
  volumes: VolumeStore;
  spool: UploadSpool;
  /** The build cache's owner (system df's Build Cache line, builder prune). */
  build?: Pick<BuildService, 'cacheUsage' | 'pruneCache'>;
  /** After builder prune: the cache may have held the last link to a removed image's files (VM templates end then). */
  onCacheFreed?: () => void;
}

export function makeOpsBackends(deps: OpsBackendDeps): OpsBackends {
  const { instances, images, events } = deps;
  const inUse = (imageId: string): boolean => instances.usesImage(imageId);

  const target = (id: string): StatsTarget | undefined => {
    let r;
    try {
      r = instances.get(id);
    } catch {
      return undefined;
    }
    if (r.id !== id) return undefined;
    return { id: r.id, name: r.name, state: r.state, pid: r.pid, startedAt: r.startedAt, memoryMiB: r.config.memoryMiB };
  };

  return {
    events: {
      events: (q) => eventStream(events, parseEventQuery(q, events.now())),
    },
    stats: {
      stats: (ref, stream, signal) => {
        const { id } = instances.get(ref); // unknown instances fail before any output
        return instanceStats(() => target(id), { stream, signal });
      },
    },
    prune: {
      pruneInstances: (filters) => pruneInstances(instances, parseFilters(filters, INSTANCE_PRUNE_FILTERS, 'container prune')),
      pruneImages: async (all = false) => {
        const sizes = new Map(images.list().map((i) => [i.id, i.size]));
        const result = images.prune({ inUse, all });
        // Cut pulls' kept bytes (partial.ts) go too.
        const partial = images.partial.prune();
        return { ...result, spaceReclaimed: partial + result.deleted.reduce((n, id) => n + (sizes.get(id) ?? 0), 0) };
      },
      pruneBuildCache: async (all, filters) => {
        if (!deps.build) throw new CunikError('INTERNAL', 'this daemon cannot build images: it has no build cache');
        const f = parseFilters(filters, ['until'], 'builder prune');
        const until = f['until']?.length ? Math.min(...f['until'].map((v) => untilTime(v, Date.now()))) : undefined;
        const r = await deps.build.pruneCache({ all, ...(until !== undefined && { until }) });
        deps.onCacheFreed?.();
        return r;
      },
      diskUsage: async (verbose) => {
        const list = images.list();
        const used = list.filter((i) => inUse(i.id));
        const size = list.reduce((n, i) => n + i.size, 0);
        const usedSize = used.reduce((n, i) => n + i.size, 0);
        return {
          images: { total: list.length, active: used.length, size, reclaimable: size - usedSize },
          instances: await instancesUsage(instances),
          volumes: await volumesUsage({ volumes: deps.volumes, instances }),
          // Uploads and image staging in progress (leftovers are swept at daemon start), cut pulls kept to resume.
          temporary: { size: (await deps.spool.usage()) + (await images.tempUsage()) },
          ...(deps.build && { buildCache: await deps.build.cacheUsage(verbose ?? false) }),
        };
      },
    },
  };
}
