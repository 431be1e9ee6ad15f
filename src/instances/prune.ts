// Removing every stopped instance (`container prune`) and measuring what instances occupy
// (`system df`), through the instances service's public methods.
import type { InstanceState } from '../api/schemas.js';
import { diskUsage } from '../util/disk-usage.js';

/** The part of the instances service pruning needs. */
export interface PrunableInstances {
  list(all: boolean): { id: string; state: InstanceState }[];
  remove(ref: string, force: boolean): Promise<void>;
  paths(id: string): { dir: string };
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
export async function pruneInstances(svc: PrunableInstances): Promise<{ deleted: string[]; spaceReclaimed: number }> {
  const victims = svc.list(true).filter((r) => PRUNABLE.includes(r.state));
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
