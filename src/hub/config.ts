// The hub's config file (YAML, docs/hub.md) and flags, merged into one HubConfig. Pure: parse,
// check, fill defaults; a wrong value is one sentence naming it.
import { parse as parseYaml } from 'yaml';
import { parseDurationUs } from '../events/time.js';

export interface AccessRule {
  /** A user name, or "*" for every signed-in user; absent for anonymous rules. */
  user?: string;
  /** A repository pattern: "*" any run of characters except "/", "**" any (e.g. "public/**"). */
  repository: string;
  actions: ('pull' | 'push' | 'delete')[];
}

export interface HubConfig {
  addr: { host: string; port: number };
  root: string;
  /** DELETE of manifests, tags, blobs and repositories (false: UNSUPPORTED). */
  deletes: boolean;
  gcGraceMs: number;
  uploadTimeoutMs: number;
  maxBlobBytes: number;
  /** clientCA: only clients with a certificate signed by it get in (mutual TLS). */
  tls?: { cert: string; key: string; clientCA?: string };
  auth?: {
    htpasswd: string;
    realm?: string;
    service: string;
    tokenTtlSec: number;
    /** Who may do what; anonymous rules have no user. Without rules, signed-in users may do everything. */
    access: AccessRule[];
  };
}

export const DEFAULT_ADDR = '127.0.0.1:5000';

export function parseAddr(v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid address ${JSON.stringify(v)} (use HOST:PORT, e.g. 127.0.0.1:5000)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function duration(v: unknown, what: string): number {
  const us = typeof v === 'string' ? parseDurationUs(v) : typeof v === 'number' && v >= 0 ? v * 1e6 : undefined;
  if (us === undefined) throw new Error(`${what} must be a duration such as 1h or 30m (got ${JSON.stringify(v)})`);
  return us / 1000;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(obj: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) throw new Error(`${where}: unknown setting ${JSON.stringify(k)} (known: ${keys.join(', ')})`);
}

function rules(v: unknown, where: string, anonymous: boolean): AccessRule[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Error(`${where} must be a list`);
  return v.map((r, i) => {
    const at = `${where}[${i}]`;
    if (!isObj(r)) throw new Error(`${at} must be a mapping`);
    only(r, anonymous ? ['repository', 'actions'] : ['user', 'repository', 'actions'], at);
    if (typeof r['repository'] !== 'string' || r['repository'] === '') throw new Error(`${at}.repository must be a pattern such as "team/*"`);
    const actions = r['actions'];
    if (!Array.isArray(actions) || !actions.every((a) => a === 'pull' || a === 'push' || a === 'delete')) throw new Error(`${at}.actions must list pull, push or delete`);
    if (anonymous && actions.some((a) => a !== 'pull')) throw new Error(`${at}: anonymous users may only pull`);
    const rule: AccessRule = { repository: r['repository'], actions: actions as AccessRule['actions'] };
    if (!anonymous) {
      if (typeof r['user'] !== 'string' || r['user'] === '') throw new Error(`${at}.user must be a user name or "*"`);
      rule.user = r['user'];
    }
    return rule;
  });
}

export interface HubFlags {
  addr?: string;
  root?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
}

/** The config file's text (or undefined) and the command-line flags, which win. */
export function buildConfig(text: string | undefined, flags: HubFlags, defaultRoot: string): HubConfig {
  const doc: unknown = text === undefined ? {} : parseYaml(text);
  const c = doc ?? {};
  if (!isObj(c)) throw new Error('the config file must be a YAML mapping');
  only(c, ['addr', 'root', 'deletes', 'gc', 'uploads', 'limits', 'tls', 'auth'], 'config');
  const sub = (key: string, keys: string[]): Record<string, unknown> => {
    const v = c[key] ?? {};
    if (!isObj(v)) throw new Error(`config.${key} must be a mapping`);
    only(v, keys, `config.${key}`);
    return v;
  };
  const gc = sub('gc', ['grace']);
  const up = sub('uploads', ['timeout']);
  const limits = sub('limits', ['blobBytes']);
  const tls = sub('tls', ['cert', 'key', 'clientCA']);
  const auth = sub('auth', ['htpasswd', 'realm', 'service', 'tokenTtl', 'access', 'anonymous']);
  const str = (v: unknown, what: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new Error(`${what} must be a string`);
    return v;
  };
  if (c['deletes'] !== undefined && typeof c['deletes'] !== 'boolean') throw new Error('config.deletes must be true or false');
  const maxBlob = limits['blobBytes'] ?? 64 * 1024 ** 3;
  if (typeof maxBlob !== 'number' || !Number.isSafeInteger(maxBlob) || maxBlob <= 0) throw new Error('config.limits.blobBytes must be a positive whole number of bytes');
  const out: HubConfig = {
    addr: parseAddr(flags.addr ?? str(c['addr'], 'config.addr') ?? DEFAULT_ADDR),
    root: flags.root ?? str(c['root'], 'config.root') ?? defaultRoot,
    deletes: (c['deletes'] as boolean | undefined) ?? true,
    gcGraceMs: gc['grace'] === undefined ? 3600_000 : duration(gc['grace'], 'config.gc.grace'),
    uploadTimeoutMs: up['timeout'] === undefined ? 3600_000 : duration(up['timeout'], 'config.uploads.timeout'),
    maxBlobBytes: maxBlob,
  };
  const cert = flags.tlsCert ?? str(tls['cert'], 'config.tls.cert');
  const key = flags.tlsKey ?? str(tls['key'], 'config.tls.key');
  if ((cert === undefined) !== (key === undefined)) throw new Error('TLS needs both a certificate (--tls-cert) and its key (--tls-key)');
  const clientCA = flags.tlsClientCa ?? str(tls['clientCA'], 'config.tls.clientCA');
  if (clientCA !== undefined && cert === undefined) throw new Error('client certificates (--tls-client-ca) need TLS: give --tls-cert and --tls-key too');
  if (cert !== undefined && key !== undefined) out.tls = { cert, key, ...(clientCA !== undefined && { clientCA }) };
  const htpasswd = str(auth['htpasswd'], 'config.auth.htpasswd');
  if (htpasswd !== undefined) {
    const realm = str(auth['realm'], 'config.auth.realm');
    out.auth = {
      htpasswd,
      service: str(auth['service'], 'config.auth.service') ?? 'cunik-hub',
      tokenTtlSec: auth['tokenTtl'] === undefined ? 300 : duration(auth['tokenTtl'], 'config.auth.tokenTtl') / 1000,
      access: [...rules(auth['access'], 'config.auth.access', false), ...rules(auth['anonymous'], 'config.auth.anonymous', true)],
      ...(realm !== undefined && { realm }),
    };
  } else if (Object.keys(auth).length > 0) throw new Error('config.auth needs htpasswd (the users file)');
  return out;
}
