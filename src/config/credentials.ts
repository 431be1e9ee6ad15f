// Registry credentials: Cunik's own config file ($CUNIK_CONFIG, else ~/.config/cunik/config.json,
// mode 0600, Docker's "auths" shape: {"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}}),
// and Docker's ~/.docker/config.json ($DOCKER_CONFIG/config.json) read too when Cunik has none.
import { readFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { atomicWriteFileSync } from '../util/atomic-write.js';

export interface Credentials {
  username: string;
  password: string;
}

interface ConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
  [k: string]: unknown;
}

export const cunikConfigPath = (): string =>
  process.env['CUNIK_CONFIG'] ?? join(process.env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'cunik', 'config.json');

const dockerConfigPath = (): string => join(process.env['DOCKER_CONFIG'] ?? join(homedir(), '.docker'), 'config.json');

function readConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as ConfigFile;
  } catch {
    throw new Error(`${path} is not valid JSON; fix or remove it`);
  }
}

function decode(entry: { auth?: string; username?: string; password?: string } | undefined): Credentials | undefined {
  if (!entry || typeof entry !== 'object') return undefined;
  if (typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password };
  if (typeof entry.auth !== 'string') return undefined;
  const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
  const i = plain.indexOf(':');
  if (i <= 0) return undefined;
  return { username: plain.slice(0, i), password: plain.slice(i + 1) };
}

/** Docker keys some entries by URL ("https://host/v1/"): match on the host. */
function lookup(auths: ConfigFile['auths'], registry: string): Credentials | undefined {
  if (!auths || typeof auths !== 'object') return undefined;
  for (const [key, entry] of Object.entries(auths)) {
    const host = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (host === registry) {
      const c = decode(entry);
      if (c) return c;
    }
  }
  return undefined;
}

/** The credentials for a registry: Cunik's own first, then Docker's. */
export function credentialsFor(registry: string): Credentials | undefined {
  return lookup(readConfig(cunikConfigPath()).auths, registry) ?? lookup(readConfig(dockerConfigPath()).auths, registry);
}

export function storeCredentials(registry: string, c: Credentials): string {
  const path = cunikConfigPath();
  const cfg = readConfig(path);
  cfg.auths = { ...(cfg.auths ?? {}), [registry]: { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') } };
  atomicWriteFileSync(path, `${JSON.stringify(cfg, null, 2)}\n`, 0o600);
  chmodSync(path, 0o600);
  return path;
}

/** Remove a registry's stored credentials; false when there were none. */
export function removeCredentials(registry: string): boolean {
  const path = cunikConfigPath();
  const cfg = readConfig(path);
  if (!cfg.auths || !(registry in cfg.auths)) return false;
  delete cfg.auths[registry];
  atomicWriteFileSync(path, `${JSON.stringify(cfg, null, 2)}\n`, 0o600);
  chmodSync(path, 0o600);
  return true;
}
