// Registry credentials: Cunik's own config file ($CUNIK_CONFIG, else ~/.config/cunik/config.json,
// mode 0600, Docker's "auths" shape: {"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}}),
// and Docker's ~/.docker/config.json ($DOCKER_CONFIG/config.json) read too when Cunik has none.
// In either file, Docker's credential helpers: `credHelpers` {"HOST": "NAME"} and `credsStore`
// "NAME" name a `docker-credential-NAME` program on the PATH, asked with `get` (the registry on
// stdin, {"Username","Secret"} on stdout), before the file's own auths, as Docker does.
import { execFileSync } from 'node:child_process';
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
  credHelpers?: Record<string, unknown>;
  credsStore?: unknown;
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

/** A helper's name as a config gives it: letters, digits, '-', '_', '.' only (it becomes a program name). */
const HELPER = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Ask `docker-credential-NAME get` for a registry's credentials (Docker's protocol). Undefined
 * when it has none ("credentials not found"); any other failure is one line naming the helper.
 */
export function fromHelper(name: string, registry: string, file: string): Credentials | undefined {
  const prog = `docker-credential-${name}`;
  if (!HELPER.test(name)) throw new Error(`${file} names an invalid credential helper ${JSON.stringify(name)}`);
  let out: string;
  try {
    out = execFileSync(prog, ['get'], { input: registry, encoding: 'utf8', timeout: 30_000, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1024 * 1024 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string; status?: number | null };
    if (e.code === 'ENOENT') throw new Error(`the credential helper ${prog} named in ${file} is not on the PATH`);
    const said = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim();
    if (/credentials not found/i.test(said)) return undefined;
    const first = said.split('\n').find((l) => l.trim() !== '') ?? (e.code ?? `exit status ${e.status}`);
    throw new Error(`the credential helper ${prog} failed for ${registry}: ${first.trim().slice(0, 200)}`);
  }
  let v: { Username?: unknown; Secret?: unknown };
  try {
    v = JSON.parse(out) as typeof v;
  } catch {
    throw new Error(`the credential helper ${prog} answered ${registry} with something other than JSON`);
  }
  if (typeof v.Username !== 'string' || typeof v.Secret !== 'string') throw new Error(`the credential helper ${prog} answered ${registry} without a Username and Secret`);
  if (v.Secret === '') return undefined;
  return { username: v.Username, password: v.Secret };
}

/** One config file's credentials for a registry: its helper for that registry, its store, then its auths. */
function fromConfig(path: string, registry: string): Credentials | undefined {
  const cfg = readConfig(path);
  const helpers = cfg.credHelpers !== null && typeof cfg.credHelpers === 'object' && !Array.isArray(cfg.credHelpers) ? cfg.credHelpers : {};
  const named = helpers[registry] ?? cfg.credsStore;
  if (named !== undefined && named !== '') {
    if (typeof named !== 'string') throw new Error(`${path}: a credential helper must be named by a string`);
    const c = fromHelper(named, registry, path);
    if (c) return c;
  }
  return lookup(cfg.auths, registry);
}

/** The credentials for a registry: Cunik's own first, then Docker's. */
export function credentialsFor(registry: string): Credentials | undefined {
  return fromConfig(cunikConfigPath(), registry) ?? fromConfig(dockerConfigPath(), registry);
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
