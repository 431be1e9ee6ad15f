// Docker's long mount form (--mount type=volume,source=NAME,target=/PATH,readonly and the API's
// HostConfig.Mounts) as a MountRequest: the fields both give, checked once for the CLI and the
// Docker compat layer. Options a VM cannot honour are refused by name, never dropped. Pure.
import { invalid } from '../errors.js';
import type { MountRequest } from './mounts.js';
import { VOLUME_NAME } from './types.js';

export interface MountFields {
  /** volume (the default) or bind. */
  type?: string;
  source?: string;
  target?: string;
  readonly?: boolean;
  /** Options given that have no counterpart (volume-opt, bind-propagation, tmpfs-size...), by their names. */
  unsupported: string[];
}

export function mountRequest(f: MountFields, field: string): MountRequest {
  const bad = (why: string): never => {
    throw invalid(`invalid mount: ${why}`, field);
  };
  if (f.unsupported.length > 0) bad(`${f.unsupported.join(', ')} ${f.unsupported.length === 1 ? 'is' : 'are'} not supported (type, source, target and readonly are)`);
  const type = f.type ?? 'volume';
  if (type !== 'volume' && type !== 'bind') bad(`type ${JSON.stringify(type)} is not supported (volume or bind)`);
  if (f.target === undefined || f.target === '') bad('a target (the guest path) must be given');
  if (!f.target!.startsWith('/')) bad(`the target ${JSON.stringify(f.target)} must be an absolute path`);
  const source = f.source === '' ? undefined : f.source;
  if (type === 'bind' && source === undefined) bad('a bind mount needs a source (the host folder)');
  if (type === 'bind' && !source!.startsWith('/')) bad(`the bind source ${JSON.stringify(source)} must be an absolute path`);
  if (type === 'volume' && source !== undefined && !VOLUME_NAME.test(source)) bad(`"${source}" is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)`);
  return { type, ...(source !== undefined && { source }), target: f.target!, ...(f.readonly === true && { readonly: true }) } as MountRequest;
}

const KEYS: Record<string, 'type' | 'source' | 'target' | 'readonly'> = { type: 'type', source: 'source', src: 'source', target: 'target', destination: 'target', dst: 'target', readonly: 'readonly', ro: 'readonly' };

/** --mount's CSV (key=value pairs; readonly alone means true; consistency is ignored, as on Linux Docker). */
export function parseMountCsv(text: string): MountRequest {
  const f: MountFields = { unsupported: [] };
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : part.slice(eq + 1);
    const name = KEYS[key];
    if (key === '') throw invalid(`invalid mount ${JSON.stringify(text)}: an empty field`, 'mount');
    if (key === 'consistency') continue;
    if (name === undefined) f.unsupported.push(key);
    else if (name === 'readonly') {
      if (value !== undefined && !/^(true|false|1|0)$/i.test(value)) throw invalid(`invalid mount ${JSON.stringify(text)}: readonly=${value} (true or false)`, 'mount');
      f.readonly = value === undefined || /^(true|1)$/i.test(value);
    } else if (value === undefined) throw invalid(`invalid mount ${JSON.stringify(text)}: ${key} needs a value (${key}=...)`, 'mount');
    else f[name] = value;
  }
  return mountRequest(f, 'mount');
}
