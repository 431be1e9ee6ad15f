// Removing every stopped instance (`container prune`) and measuring what instances occupy
// (`system df`), through the instances service's public methods.
import type { InstanceState } from '../api/schemas.js';
import { diskUsage } from '../util/disk-usage.js';
import { hasLabel, untilTime, type Filters } from '../util/filters.js';

/** The part of the instances service pruning needs. */
export interface PrunableInstances {
  list(all: boolean): { id: string; state: InstanceState; created: string; config: { labels?: Record<string, string> } }[];
  remove(ref: string, force: boolean): Promise<void>;
  paths(id: string): { dir: string };
}

/** Docker's container prune filters. */
export const INSTANCE_PRUNE_FILTERS = ['until', 'label', 'label!'] as const;

/** until: created before it; label: every term holds; label!: none does (Docker's rules). */
export function prunable(r: { created: string; config: { labels?: Record<string, string> } }, f: Filters, now = Date.now()): boolean {
  const labels = r.config.labels ?? {};
  return (
    (f['until'] ?? []).every((v) => Date.parse(r.created) < untilTime(v, now)) &&
    (f['label'] ?? []).every((v) => hasLabel(labels, v)) &&
    !(f['label!'] ?? []).some((v) => hasLabel(labels, v))
  );
}

/** States `prune` removes: never started, or exited. */
export const PRUNABLE: readonly InstanceState[] = ['created', 'exited'];

/** Bytes of an instance's own files (its state folder; shared image files not counted). */
export const instanceDiskSize = (svc: Pick<PrunableInstances, 'paths'>, id: string): Promise<number> => diskUsage(svc.paths(id).dir, { skipShared: true });
const instanceSize = instanceDiskSize;

/**
 * Remove every created or exited instance. One that changes state meanwhile (started, or removed
 * by someone else) is left alone: removal without force refuses a running instance.
 */
export async function pruneInstances(svc: PrunableInstances, filters: Filters = {}): Promise<{ deleted: string[]; spaceReclaimed: number }> {
  const victims = svc.list(true).filter((r) => PRUNABLE.includes(r.state) && prunable(r, filters));
  const results = await Promise.all(
    victims.map(async (r) => {
      const size = await instanceSize(svc, r.id);
      try {
        await svc.remove(r.id, false);
        return { id: r.id, size };
      } catch {
        return undefined;
      }
    }),
  );
  const done = results.filter((r): r is { id: string; size: number } => r !== undefined);
  return { deleted: done.map((r) => r.id), spaceReclaimed: done.reduce((n, r) => n + r.size, 0) };
}

export async function instancesUsage(svc: PrunableInstances): Promise<{ total: number; active: number; size: number; reclaimable: number }> {
  const all = svc.list(true);
  const sizes = await Promise.all(all.map((r) => instanceSize(svc, r.id)));
  let size = 0;
  let reclaimable = 0;
  let active = 0;
  all.forEach((r, i) => {
    size += sizes[i]!;
    if (PRUNABLE.includes(r.state)) reclaimable += sizes[i]!;
    else active++;
  });
  return { total: all.length, active, size, reclaimable };
}
