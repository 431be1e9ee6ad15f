// The options of Docker's `local` volume driver (`docker volume create -o KEY=VALUE`, the API's
// DriverOpts) as Cunik's volume create takes them, for the CLI and the Docker compat layer. Pure.
// - size=SIZE: a block volume of that size (Cunik's own; Docker's local driver takes it on tmpfs).
// - type=none,o=bind,device=PATH: a share that is an existing host folder rather than one the
//   store makes (Docker's named bind volume); removing the volume leaves the folder.
// Anything else (type=nfs, tmpfs, o=addr=..., uid=...) would need a mount a VM's 9p share cannot
// make, and is refused by name.
import { isAbsolute, normalize } from 'node:path';
import { invalid } from '../errors.js';
import { parseSize } from '../util/size.js';

export interface DriverOptsRequest {
  sizeBytes?: number;
  device?: string;
}

export function localDriverOpts(opts: Record<string, unknown>, field = 'DriverOpts'): DriverOptsRequest {
  for (const [k, v] of Object.entries(opts)) {
    if (typeof v !== 'string') throw invalid(`volume option ${k} must be a string, got ${JSON.stringify(v)}`, field);
    if (!['size', 'type', 'o', 'device'].includes(k)) throw invalid(`volume option ${k} is not supported (size, or type=none,o=bind,device=PATH)`, field);
  }
  const { size, type, o, device } = opts as Record<string, string | undefined>;
  const out: DriverOptsRequest = {};
  if (size !== undefined) {
    const bytes = parseSize(size);
    if (bytes === undefined) throw invalid(`volume option size ${JSON.stringify(size)} is not a size such as 64m or 1g`, field);
    out.sizeBytes = bytes;
  }
  if (type === undefined && o === undefined && device === undefined) return out;
  if (type !== 'none' || o === undefined || !o.split(',').includes('bind') || device === undefined) {
    throw invalid('a volume of a host folder takes type=none, o=bind and device=PATH together (other mount types are not supported)', field);
  }
  const other = o.split(',').filter((w) => w !== 'bind' && w !== 'rbind' && w !== '');
  if (other.length > 0) throw invalid(`volume option o=${o}: only bind is supported (${other.join(', ')} is not)`, field);
  if (!isAbsolute(device)) throw invalid(`volume option device ${JSON.stringify(device)} must be an absolute host path`, field);
  if (size !== undefined) throw invalid('a volume of a host folder takes no size', field);
  const clean = normalize(device);
  out.device = clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
  return out;
}
