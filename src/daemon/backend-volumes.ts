// Wires the volume store to the narrow backend interface the volume routes declare; which
// instances use a volume comes from the instances service.
import type { Volume as VolumeView } from '../api/volumes.js';
import { CunikError, invalid } from '../errors.js';
import type { InstanceService } from '../instances/service.js';
import { hasLabel, parseFilters } from '../util/filters.js';
import { matchesVolume, parseVolumeFilters } from '../volumes/filter.js';
import type { VolumeStore } from '../volumes/store.js';
import type { Volume } from '../volumes/types.js';
import type { VolumesBackend } from './routes/volumes.js';

export interface VolumesBackendDeps {
  volumes: VolumeStore;
  instances: Pick<InstanceService, 'volumeUsers'>;
}

export function makeVolumesBackend(deps: VolumesBackendDeps): VolumesBackend {
  const { volumes, instances } = deps;
  const usedBy = (name: string): string[] => instances.volumeUsers(name);
  const view = (v: Volume): VolumeView => ({ ...v, usedBy: usedBy(v.name) });

  return {
    list: async (q) => {
      const f = parseVolumeFilters(q.filters);
      // The query's own dangling= and name= are terms of the same filters.
      if (q.dangling !== undefined) f['dangling'] = [String(q.dangling)];
      if (q.name !== undefined) f['name'] = [q.name];
      return (await volumes.list()).map(view).filter((v) => matchesVolume(v, f));
    },
    create: async (req) =>
      view(
        await volumes.create({
          name: req.name,
          driver: req.driver,
          sizeBytes: req.sizeBytes,
          labels: req.labels,
          device: req.device,
        }),
      ),
    inspect: async (name) => view(await volumes.get(name)),
    remove: async (name, force) => {
      try {
        await volumes.remove(name, usedBy);
      } catch (err) {
        if (!(force && err instanceof CunikError && err.code === 'NOT_FOUND')) throw err;
      }
    },
    prune: (all, filters) => {
      const f = parseFilters(filters, ['label', 'label!', 'all'], 'volume prune');
      for (const v of f['all'] ?? []) if (!/^(true|false|1|0)$/.test(v)) throw invalid(`invalid filter all=${v} (true or false)`, 'filters');
      const labelled = (v: Volume): boolean => (f['label'] ?? []).every((t) => hasLabel(v.labels, t)) && !(f['label!'] ?? []).some((t) => hasLabel(v.labels, t));
      return volumes.prune(usedBy, all || (f['all'] ?? []).some((v) => v === 'true' || v === '1'), labelled);
    },
  };
}

/** `system df`'s volumes line: how many, how many in use, their bytes and what prune would free. */
export async function volumesUsage(deps: VolumesBackendDeps): Promise<{ total: number; active: number; size: number; reclaimable: number }> {
  const list = await deps.volumes.list();
  const sizes = await Promise.all(list.map((v) => deps.volumes.usage(v)));
  let size = 0;
  let reclaimable = 0;
  let active = 0;
  list.forEach((v, i) => {
    size += sizes[i]!;
    if (deps.instances.volumeUsers(v.name).length > 0) active++;
    else reclaimable += sizes[i]!;
  });
  return { total: list.length, active, size, reclaimable };
}
