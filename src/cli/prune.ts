// What `container prune`, `image prune` and `system prune` share: Docker's warnings and reports.
import type { PruneImagesResponse, PruneInstancesResponse } from '../api/prune.js';
import type { PruneVolumesResponse } from '../api/volumes.js';
import { bytes } from './format/table.js';

export const WARN_INSTANCES = 'WARNING! This will remove all stopped instances.';
export const WARN_IMAGES = 'WARNING! This will remove all dangling images.';
export const WARN_VOLUMES = 'WARNING! This will remove all volumes not used by at least one instance.';
export const WARN_SYSTEM = ['WARNING! This will remove:', '  - all stopped instances', '  - all dangling images', ''].join('\n');

export function instancesReport(r: PruneInstancesResponse): string {
  return r.deleted.length ? `Deleted Instances:\n${r.deleted.map((id) => `${id}\n`).join('')}\n` : '';
}

export function imagesReport(r: PruneImagesResponse): string {
  if (r.untagged.length + r.deleted.length === 0) return '';
  return `Deleted Images:\n${r.untagged.map((t) => `untagged: ${t}\n`).join('')}${r.deleted.map((d) => `deleted: ${d}\n`).join('')}\n`;
}

export function volumesReport(r: PruneVolumesResponse): string {
  return r.deleted.length ? `Deleted Volumes:\n${r.deleted.map((n) => `${n}\n`).join('')}\n` : '';
}

export const reclaimed = (n: number): string => `Total reclaimed space: ${bytes(n)}\n`;
