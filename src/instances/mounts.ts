// The file-system side of an instance's mounts at create time: which volumes exist, what kind a
// volume made for it gets (asked of the family adapter), bound folders that must exist; then
// making the missing volumes, and undoing that when the create fails.
import { stat } from 'node:fs/promises';
import { invalid } from '../errors.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig, InstanceVolume } from '../families/types.js';
import { declaredVolumes, planMounts, type MountRecord, type MountRequest, type PlannedMount } from '../volumes/mounts.js';
import type { InstanceRecord } from './record.js';
import { randomVolumeName, type CreateVolumeOptions, type Volume, type VolumeDriver } from '../volumes/types.js';

/** What the instances service needs from the volume store. */
export interface VolumeAccess {
  find(name: string): Promise<Volume | undefined>;
  create(opts: CreateVolumeOptions): Promise<Volume>;
  remove(name: string, usedBy: (name: string) => string[]): Promise<Volume>;
  mountpointOf(name: string, driver: VolumeDriver): string;
  /** Before a start: the shares' folders given to the user the VM runs as. */
  claimShares?(names: string[]): Promise<void>;
}

/**
 * The volume kinds a family takes for this image, asked of its adapter (a probe boot spec with one
 * volume of each kind): a new volume is a share where the family mounts shares, else a block file.
 */
export function volumeKinds(adapter: FamilyAdapter, boot: ImageBootInfo, base: InstanceBootConfig): VolumeDriver[] {
  const takes = (v: InstanceVolume): boolean => {
    try {
      adapter.bootSpec(boot, { ...base, volumes: [...(base.volumes ?? []), v] });
      return true;
    } catch {
      return false;
    }
  };
  const probe = (kind: VolumeDriver): InstanceVolume => ({ kind, source: kind === 'block' ? '/dev/null' : '/', target: '/cunik-probe', readonly: false });
  return (['share', 'block'] as const).filter((k) => takes(probe(k)));
}

export interface ResolvedMounts {
  mounts: MountRecord[];
  /** Volumes to make before the instance is stored. */
  missing: CreateVolumeOptions[];
}

/**
 * Host paths and kinds of the planned mounts. `kinds` is what the family takes (volumeKinds):
 * an image's declared mount point is left out when it takes none (the adapter refuses asked ones).
 */
export async function resolveMounts(planned: PlannedMount[], volumes: VolumeAccess | undefined, kinds: VolumeDriver[]): Promise<ResolvedMounts> {
  const mounts: MountRecord[] = [];
  const missing: CreateVolumeOptions[] = [];
  const auto: VolumeDriver = kinds[0] ?? 'block';
  for (const p of planned) {
    if (p.type === 'bind') {
      const st = await stat(p.source!).catch(() => undefined);
      if (!st) throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${p.source}`, 'mounts');
      if (!st.isDirectory()) throw invalid(`invalid mount config for type "bind": ${p.source} is not a directory (folders are shared over 9p)`, 'mounts');
      mounts.push({ type: 'bind', source: p.source!, target: p.target, readonly: p.readonly, kind: 'share' });
      continue;
    }
    if (p.anonymous && kinds.length === 0 && p.name === undefined) continue;
    if (!volumes) throw invalid('this daemon has no volume store', 'mounts');
    const name = p.name ?? randomVolumeName();
    const existing = p.name !== undefined ? await volumes.find(name) : undefined;
    // A volume of a host folder of the user's: that folder must still be there, as a bind's.
    if (existing?.device !== undefined && !(await stat(existing.device).catch(() => undefined))?.isDirectory()) {
      throw invalid(`volume ${name} is the host folder ${existing.device}, which is no longer a directory`, 'mounts');
    }
    const kind = existing?.driver ?? auto;
    if (!existing) missing.push({ name, driver: kind, ...(p.anonymous && { anonymous: true }) });
    mounts.push({ type: 'volume', name, source: existing?.mountpoint ?? volumes.mountpointOf(name, kind), target: p.target, readonly: p.readonly, kind, ...(p.anonymous && { anonymous: true }) });
  }
  return { mounts, missing };
}

/** The mounts asked for plus the image's declared mount points, resolved (see resolveMounts). */
export async function instanceMounts(requests: MountRequest[], adapter: FamilyAdapter, boot: ImageBootInfo, base: InstanceBootConfig, volumes: VolumeAccess | undefined): Promise<ResolvedMounts> {
  const planned = planMounts(requests, declaredVolumes(boot.labels));
  return resolveMounts(planned, volumes, planned.length > 0 ? volumeKinds(adapter, boot, base) : []);
}

/** Make the missing volumes; if one fails, remove those made here and rethrow. Returns their names. */
export async function createVolumes(volumes: VolumeAccess | undefined, missing: CreateVolumeOptions[]): Promise<string[]> {
  const made: string[] = [];
  if (!volumes || missing.length === 0) return made;
  try {
    for (const m of missing) made.push((await volumes.create(m)).name);
  } catch (err) {
    await removeVolumes(volumes, made);
    throw err;
  }
  return made;
}

/** Remove volumes no instance uses any more (quietly: one taken into use meanwhile stays). */
export async function removeVolumes(volumes: VolumeAccess | undefined, names: string[], usedBy: (name: string) => string[] = () => []): Promise<void> {
  if (!volumes) return;
  for (const name of names) await volumes.remove(name, usedBy).catch(() => undefined);
}

/** Which instances use a volume: their records, and creates in progress (no record yet). */
export class VolumeUse {
  private readonly pending = new Map<string, number>();

  constructor(private readonly records: () => Iterable<InstanceRecord>) {}

  of(name: string): string[] {
    const users = [...this.records()].filter((r) => (r.config.mounts ?? []).some((m) => m.name === name)).map((r) => r.id);
    return users.length === 0 && this.pending.has(name) ? ['(being created)'] : users;
  }

  reserve(names: string[], delta: 1 | -1): void {
    for (const n of names) {
      const count = (this.pending.get(n) ?? 0) + delta;
      if (count > 0) this.pending.set(n, count);
      else this.pending.delete(n);
    }
  }
}
