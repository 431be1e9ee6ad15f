// An instance's mounts: what create asks for (named volumes, host folders, an image's declared
// mount points) checked and planned, and the family adapters' InstanceVolume list made from them.
// Pure, unit-tested; the instances service does the file-system part (instances/mounts.ts).
import { isAbsolute, normalize } from 'node:path';
import { invalid } from '../errors.js';
import type { InstanceVolume } from '../families/types.js';
import { checkVolumeName, type VolumeDriver } from './types.js';

/** As the API takes it: a named volume (no source: an anonymous one) or a host folder (bind). */
export interface MountRequest {
  type: 'volume' | 'bind';
  source?: string | undefined;
  target: string;
  readonly?: boolean | undefined;
}

/** As the instance record keeps it. */
export interface MountRecord {
  type: 'volume' | 'bind';
  /** Volumes: the volume's name. */
  name?: string;
  /** The host path: the volume's block file or folder, or the bound folder. */
  source: string;
  target: string;
  readonly: boolean;
  kind: VolumeDriver;
  /** Made for this instance (an image's declared mount point): removed with it by run --rm / rm -v. */
  anonymous?: boolean;
}

/** A mount to resolve: `name` undefined for an anonymous volume. */
export interface PlannedMount {
  type: 'volume' | 'bind';
  name?: string;
  source?: string;
  target: string;
  readonly: boolean;
  anonymous: boolean;
}

function guestPath(target: string, field: string): string {
  if (!target.startsWith('/')) throw invalid(`invalid mount target "${target}": the guest path must be absolute`, field);
  const clean = normalize(target);
  if (clean !== '/' && clean.endsWith('/')) return clean.slice(0, -1);
  if (clean === '/') throw invalid('invalid mount target "/": cannot mount over the guest\'s root', field);
  return clean;
}

/**
 * The mounts of a create request plus an anonymous volume for each of the image's declared mount
 * points that no request covers (Docker's VOLUME rule). Two mounts on one guest path are refused.
 */
export function planMounts(requests: MountRequest[], declared: string[] = []): PlannedMount[] {
  const planned: PlannedMount[] = requests.map((m, i) => {
    const field = `mounts[${i}]`;
    const target = guestPath(m.target, `${field}.target`);
    const readonly = m.readonly ?? false;
    if (m.type === 'bind') {
      const source = m.source ?? '';
      if (!isAbsolute(source)) throw invalid(`invalid bind mount source "${source}": the host path must be absolute`, `${field}.source`);
      return { type: 'bind', source: normalize(source).replace(/(.)\/$/, '$1'), target, readonly, anonymous: false };
    }
    if (m.source === undefined || m.source === '') return { type: 'volume', target, readonly, anonymous: true };
    return { type: 'volume', name: checkVolumeName(m.source, `${field}.source`), target, readonly, anonymous: false };
  });
  const seen = new Set<string>();
  for (const p of planned) {
    if (seen.has(p.target)) throw invalid(`duplicate mount point: ${p.target}`, 'mounts');
    seen.add(p.target);
  }
  for (const path of declared) {
    if (!path.startsWith('/')) continue;
    const target = guestPath(path, 'image');
    if (seen.has(target)) continue;
    seen.add(target);
    planned.push({ type: 'volume', target, readonly: false, anonymous: true });
  }
  return planned;
}

/** The image's declared mount points (label org.cunik.volumes: a JSON list of paths). */
export function declaredVolumes(labels: Record<string, string>): string[] {
  const raw = labels['org.cunik.volumes'];
  if (raw === undefined) return [];
  try {
    const list: unknown = JSON.parse(raw);
    return Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

/** What the family adapters get: block files as virtio-blk, folders as 9p shares. */
export const instanceVolumes = (mounts: MountRecord[]): InstanceVolume[] =>
  mounts.map((m) => ({ kind: m.kind, source: m.source, target: m.target, readonly: m.readonly, ...(m.kind === 'block' && { format: 'raw' as const }) }));

/** Docker's inspect Mounts entry, camelCase. */
export const mountView = (m: MountRecord): { type: 'volume' | 'bind'; name: string | null; source: string; destination: string; driver: VolumeDriver; rw: boolean } => ({
  type: m.type,
  name: m.name ?? null,
  source: m.source,
  destination: m.target,
  driver: m.kind,
  rw: !m.readonly,
});
