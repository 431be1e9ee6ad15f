// Docker's `volume ls --filter` (daemon/volume/service): name=TEXT (a substring), label=KEY[=VALUE]
// (every term must hold), driver=share|block, dangling=true|false (no instance uses it). Values of
// one key are alternatives. Parsing is util/filters.ts's; matching is pure.
import { hasLabel, parseFilters, type Filters } from '../util/filters.js';

export const VOLUME_FILTERS = ['name', 'label', 'driver', 'dangling'] as const;

export function parseVolumeFilters(text: string | undefined): Filters {
  return parseFilters(text, VOLUME_FILTERS, 'volume ls');
}

export interface VolumeSubject {
  name: string;
  driver: string;
  labels: Record<string, string>;
  usedBy: readonly string[];
}

export function matchesVolume(v: VolumeSubject, f: Filters): boolean {
  const any = (key: string, test: (x: string) => boolean): boolean => f[key] === undefined || f[key]!.some(test);
  return (
    any('name', (x) => v.name.includes(x)) &&
    any('driver', (x) => v.driver === x) &&
    any('dangling', (x) => (x === 'true' || x === '1') === (v.usedBy.length === 0)) &&
    (f['label'] ?? []).every((x) => hasLabel(v.labels, x))
  );
}
