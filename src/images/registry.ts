// An OCI Distribution client for one repository of one registry: manifests and blobs over
// HTTP(S) with Node's fetch, Docker's token flow (a 401 naming a Bearer realm → a token
// request with the user's basic credentials → the request again) and plain basic auth.
// Plain HTTP only for loopback registries or ones the caller marks insecure; a registry's own CAs
// from certs.d (registry-transport.ts).

import { createHash } from 'node:crypto';
import { conflict, invalid, notFound } from '../errors.js';
import { MT } from './oci.js';
import { Readable } from 'node:stream';
import { caFetch, isLoopbackRegistry, registryCAs, schemeFor, streamGet, type BlobResponse, type Fetcher, type RegistryTLS } from './registry-transport.js';

export { isLoopbackRegistry };

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** Allow plain HTTP (loopback registries always may use it). */
  insecure?: boolean;
  credentials?: Credentials;
  /** Docker's certs.d folder: DIR/HOST[:PORT]/*.crt are that registry's CAs (then HTTPS only). */
  certsDir?: string;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export const MANIFEST_ACCEPT = [MT.manifest, MT.index, MT.dockerManifest, MT.dockerList].join(', ');
const MAX_MANIFEST = 4 * 1024 * 1024;

/** Parse a WWW-Authenticate challenge: scheme and its key="value" parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return { scheme: '', params: {} };
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2]!); p !== null; p = re.exec(m[2]!)) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

/** The spec's error body ({errors: [{code, message}]}) as one short phrase, if there is one. */
async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = body.errors?.[0];
    if (e) return [e.code, e.message].filter(Boolean).join(': ');
  } catch {
    // not JSON
  }
  return `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
}

/** A response body read whole, refused past `max` bytes (a hostile registry may send endless data). */
export async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  if (res.body === null) return Buffer.alloc(0);
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += c.length;
    if (n > max) {
      await res.body.cancel().catch(() => undefined);
      throw invalid(`${what} is larger than ${max >= 1024 * 1024 ? `${max / 1024 / 1024} MiB` : `${max} bytes`}`);
    }
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks);
}

const jsonOf = (b: Buffer): unknown => {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return {};
  }
};

export class RegistryClient {
  readonly domain: string;
  readonly repo: string;
  private readonly base: string;
  private readonly creds: Credentials | undefined;
  private readonly fetch: Fetcher;
  /** The certs.d folder of this registry, or where one would go (for errors). */
  private readonly caFolder: string | undefined;
  private readonly hasCA: boolean;
  private readonly tls: RegistryTLS | undefined;
  /** Authorization header per scope ("pull" or "pull,push"), once a challenge was answered. */
  private readonly authByScope = new Map<string, string>();

  constructor(domain: string, repo: string, opts: RegistryOptions = {}) {
    this.domain = domain;
    this.repo = repo;
    const cas = registryCAs(opts.certsDir, domain);
    this.hasCA = cas !== undefined;
    this.tls = cas;
    this.fetch = cas !== undefined ? caFetch(cas) : fetch;
    this.caFolder = cas?.folder ?? (opts.certsDir !== undefined ? `${opts.certsDir}/${domain}` : undefined);
    this.base = `${schemeFor(domain, { ...(opts.insecure !== undefined && { insecure: opts.insecure }), hasCA: this.hasCA })}://${domain}`;
    this.creds = opts.credentials;
  }

  private url(path: string): string {
    return `${this.base}/v2/${this.repo}${path}`;
  }

  /**
   * A request, answering an auth challenge once. `body` is a function so a retried
   * request can send its body again (a stream can be read only once).
   */
  async request(method: string, url: string, opts: {
    /** What the request needs: 'pull' or 'pull,push' on this repository, or a whole token scope ('registry:catalog:*'), '' for none. */
    scope: string;
    headers?: Record<string, string>;
    body?: () => BodyInit;
    size?: number;
    /** The sentence for a connection lost while sending (given the error's code), instead of "could not be reached". */
    lost?: (code: string) => string;
  }): Promise<Response> {
    const send = async (): Promise<Response> => {
      const headers: Record<string, string> = { ...opts.headers };
      const auth = this.authByScope.get(opts.scope);
      if (auth !== undefined) headers['authorization'] = auth;
      const init: RequestInit & { duplex?: string } = { method, headers, redirect: 'follow' };
      if (opts.body) {
        init.body = opts.body();
        init.duplex = 'half';
        if (opts.size !== undefined) headers['content-length'] = String(opts.size);
      }
      try {
        return await this.fetch(url, init);
      } catch (err) {
        throw conflict(opts.lost !== undefined && !isConnectFailure(err) ? opts.lost(reason(err)) : this.unreachable(err));
      }
    };
    let res = await send();
    if (res.status !== 401 || this.authByScope.has(opts.scope)) return res;
    const challenge = res.headers.get('www-authenticate');
    await res.body?.cancel();
    if (challenge === null) return res;
    await this.answer(challenge, opts.scope);
    res = await send();
    return res;
  }

  private async answer(header: string, scope: string): Promise<void> {
    const { scheme, params } = parseChallenge(header);
    const basic = this.creds ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}` : undefined;
    if (scheme === 'basic') {
      if (basic === undefined) throw conflict(`registry ${this.domain} requires a login: cunik login ${this.domain}`);
      this.authByScope.set(scope, basic);
      return;
    }
    if (scheme !== 'bearer' || params['realm'] === undefined) throw conflict(`registry ${this.domain} asked for an unsupported authentication (${scheme || 'none'})`);
    let realm: URL;
    try {
      realm = new URL(params['realm']);
    } catch {
      throw conflict(`registry ${this.domain} named an invalid token realm ${JSON.stringify(params['realm'])}`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && (this.base.startsWith('http:') || isLoopbackRegistry(realm.host)))) {
      throw conflict(`registry ${this.domain} named a token realm over plain HTTP (${realm.origin}); refusing to send credentials there`);
    }
    if (params['service'] !== undefined) realm.searchParams.set('service', params['service']);
    const full = scope === 'pull' || scope === 'pull,push' ? `repository:${this.repo}:${scope}` : scope;
    // Several scopes (a mount needs pull on the source repository too) are several parameters, as Docker sends them.
    for (const one of full.split(' ').filter(Boolean)) realm.searchParams.append('scope', one);
    let res: Response;
    try {
      res = await this.fetch(realm, { headers: basic !== undefined ? { authorization: basic } : {} });
    } catch (err) {
      throw conflict(`token server ${realm.host} of registry ${this.domain} could not be reached: ${reason(err)}`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw conflict(this.creds ? `registry ${this.domain} refused the credentials for ${this.creds.username}` : `registry ${this.domain} requires a login: cunik login ${this.domain}`);
    }
    if (!res.ok) throw conflict(`token server of registry ${this.domain} answered ${await errorText(res)}`);
    const body = jsonOf(await readLimited(res, 1024 * 1024, `the token from ${realm.host}`)) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (token === undefined || token.length === 0) throw conflict(`token server of registry ${this.domain} returned no token`);
    this.authByScope.set(scope, `Bearer ${token}`);
  }

  /** One sentence for a registry that could not be reached, with what to do for TLS problems. */
  private unreachable(err: unknown): string {
    const code = reason(err);
    const where = this.caFolder !== undefined ? `${this.caFolder}/ca.crt` : `certs.d/${this.domain}/ca.crt`;
    if (TLS_TRUST.has(code)) {
      return `registry ${this.domain}: its TLS certificate is not trusted (${code}): put the CA that signed it in ${where}`;
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `registry ${this.domain}: its TLS certificate is not for this name (${code})`;
    const folder = this.caFolder ?? `certs.d/${this.domain}`;
    if (/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE/.test(code) && !this.tls?.client) return `registry ${this.domain} asks for a client certificate (${code}): put client.cert and client.key in ${folder}`;
    if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_|ACCESS_DENIED|HANDSHAKE_FAILURE)/.test(code)) return `registry ${this.domain} refused the client certificate in ${folder} (${code})`;
    const detail = String((err as { cause?: { message?: string } }).cause?.message ?? '');
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || (code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(detail))) {
      return this.hasCA
        ? `registry ${this.domain} does not speak HTTPS, yet has CAs in ${this.caFolder} (so HTTPS only): if it serves plain HTTP, remove that folder`
        : `registry ${this.domain} does not speak HTTPS: if it serves plain HTTP, name it with cunikd --insecure-registry ${this.domain}`;
    }
    if (this.base.startsWith('http:') && (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET')) {
      return `registry ${this.domain} could not be reached over plain HTTP (${code}): if it serves HTTPS, put its CA in ${where}`;
    }
    return `registry ${this.domain} could not be reached: ${code}`;
  }

  private async fail(res: Response, what: string): Promise<never> {
    const text = await errorText(res);
    if (res.status === 401) throw conflict(`${what}: registry ${this.domain} refused access (${text}); cunik login ${this.domain}`);
    if (res.status === 403) throw conflict(`${what}: registry ${this.domain} denied access (${text})`);
    if (res.status === 404) throw notFound(`${what}: not found in ${this.domain}/${this.repo} (${text})`);
    throw conflict(`${what}: registry ${this.domain} answered ${text}`);
  }

  /** GET /v2/: whether the credentials (if any) are accepted. Throws a sentence if not. */
  async ping(): Promise<void> {
    const res = await this.request('GET', `${this.base}/v2/`, { scope: '' });
    if (res.status === 401) throw conflict(`login to ${this.domain}: the registry refused these credentials (${await errorText(res)})`);
    if (!res.ok) return this.fail(res, `login to ${this.domain}`);
    await res.body?.cancel();
  }

  /** The registry's repository names (GET /v2/_catalog), up to `max`. */
  async catalog(max = 1000): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = `${this.base}/v2/_catalog?n=${Math.min(max, 1000)}`;
    while (next !== undefined && out.length < max) {
      const res = await this.request('GET', next, { scope: 'registry:catalog:*' });
      if (!res.ok) return this.catalogRefused(res);
      const body = jsonOf(await readLimited(res, 16 * 1024 * 1024, `the catalog of ${this.domain}`)) as { repositories?: unknown };
      if (!Array.isArray(body.repositories)) throw conflict(`registry ${this.domain} answered its catalog without a repository list`);
      out.push(...body.repositories.filter((x): x is string => typeof x === 'string'));
      const link = /<([^>]+)>;\s*rel="?next"?/.exec(res.headers.get('link') ?? '');
      next = link ? new URL(link[1]!, this.base).href : undefined;
    }
    return out.slice(0, max);
  }

  /**
   * CunikHub's search (GET /v2/_cunik/search: name words, families, labels), or undefined from a
   * registry that does not serve it (404: not a CunikHub).
   */
  async hubSearch(q: { q: string[]; family: string[]; label: string[] }, max: number): Promise<{ name: string; tags: number; families: string[]; updated?: string }[] | undefined> {
    const params = new URLSearchParams([['n', String(max)], ...q.q.map((v): [string, string] => ['q', v]), ...q.family.map((v): [string, string] => ['family', v]), ...q.label.map((v): [string, string] => ['label', v])]);
    const res = await this.request('GET', `${this.base}/v2/_cunik/search?${params}`, { scope: 'registry:catalog:*' });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) return this.catalogRefused(res);
    const body = jsonOf(await readLimited(res, 16 * 1024 * 1024, `the search results of ${this.domain}`)) as { results?: unknown };
    if (!Array.isArray(body.results)) throw conflict(`registry ${this.domain} answered its search without a result list`);
    return body.results.flatMap((r: unknown) => {
      const o = r as { name?: unknown; tags?: unknown; families?: unknown; updated?: unknown };
      if (typeof o?.name !== 'string') return [];
      return [{
        name: o.name, tags: typeof o.tags === 'number' ? o.tags : 0,
        families: Array.isArray(o.families) ? o.families.filter((f): f is string => typeof f === 'string') : [],
        ...(typeof o.updated === 'string' && { updated: o.updated }),
      }];
    });
  }

  /** One sentence for a registry that does not list its repositories to us. */
  private async catalogRefused(res: Response): Promise<never> {
    const text = await errorText(res);
    if (res.status === 401 || res.status === 403) {
      const who = this.creds !== undefined ? this.creds.username : 'anonymous users';
      throw conflict(`registry ${this.domain} does not let ${who} list its repositories (${text})${this.creds === undefined ? `: cunik login ${this.domain}` : ''}`);
    }
    throw conflict(`registry ${this.domain} does not list its repositories (GET /v2/_catalog answered ${text}): search needs a registry that serves its catalog, as CunikHub and Docker Distribution do`);
  }

  /** GET a manifest or index by tag or digest. The digest is the bytes' own sha256. */
  async getManifest(reference: string, scope = 'pull'): Promise<FetchedManifest> {
    const what = `manifest ${this.domain}/${this.repo}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const res = await this.request('GET', this.url(`/manifests/${reference}`), { scope, headers: { accept: MANIFEST_ACCEPT } });
    if (!res.ok) return this.fail(res, what);
    const len = Number(res.headers.get('content-length') ?? '0');
    if (len > MAX_MANIFEST) {
      await res.body?.cancel();
      throw invalid(`${what} is larger than 4 MiB`);
    }
    const bytes = await readLimited(res, MAX_MANIFEST, what);
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && digest !== reference) throw invalid(`${what}: the registry served content whose digest is ${digest}`);
    return { bytes, mediaType, digest };
  }

  /** The body of a blob (the caller verifies its digest). */
  async getBlob(digest: string): Promise<AsyncIterable<Uint8Array>> {
    return (await this.openBlob(digest)).body;
  }

  /**
   * A blob's body over node:http (no web stream: a third less CPU per byte than fetch's), from
   * byte `offset` when the registry serves ranges: `start` says where the body begins (0 when the
   * registry answered the whole blob, 200, to a Range). The caller verifies the digest.
   */
  async openBlob(digest: string, offset = 0): Promise<{ body: Readable; start: number }> {
    const url = this.url(`/blobs/${digest}`);
    const get = async (): Promise<BlobResponse> => {
      const headers: Record<string, string> = {};
      const auth = this.authByScope.get('pull');
      if (auth !== undefined) headers['authorization'] = auth;
      if (offset > 0) headers['range'] = `bytes=${offset}-`;
      try {
        return await streamGet(url, headers, this.tls);
      } catch (err) {
        throw conflict(this.unreachable(err));
      }
    };
    let res = await get();
    const challenge = res.headers['www-authenticate'];
    if (res.status === 401 && !this.authByScope.has('pull') && challenge !== undefined) {
      res.body.resume();
      await this.answer(String(challenge), 'pull');
      res = await get();
    }
    if (res.status === 200) return { body: res.body, start: 0 };
    if (res.status === 206 && offset > 0 && new RegExp(`^bytes ${offset}-\\d+/`).test(String(res.headers['content-range'] ?? ''))) {
      return { body: res.body, start: offset };
    }
    if (res.status === 206) {
      // A range other than the one asked for: start again from the first byte.
      res.body.destroy();
      if (offset > 0) return this.openBlob(digest, 0);
    }
    const h = new Headers();
    for (const [k, v] of Object.entries(res.headers)) for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) h.append(k, one);
    const web = res.status === 206 ? null : (Readable.toWeb(res.body) as ReadableStream);
    return this.fail(new Response(web, { status: res.status === 206 ? 502 : res.status, statusText: res.body.statusMessage ?? '', headers: h }), `blob ${digest}`);
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.request('HEAD', this.url(`/blobs/${digest}`), { scope: 'pull,push' });
    await res.body?.cancel();
    if (res.ok) return true;
    if (res.status === 404) return false;
    return this.fail(res, `blob ${digest}`);
  }

  /**
   * Upload a blob: a cross-repository mount from `from` when given (201 means mounted),
   * otherwise (or when the registry answers 202) a monolithic POST + PUT.
   */
  async putBlob(digest: string, size: number, open: () => BodyInit, from?: string): Promise<'mounted' | 'uploaded'> {
    const what = `blob ${digest}`;
    let start: Response | undefined;
    if (from !== undefined) {
      // A mount needs pull on the source repository as well. A registry (or token server) that will
      // not grant it, for this user, is no reason to fail the push: the blob is uploaded instead.
      const q = `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
      const scope = `repository:${this.repo}:pull,push repository:${from}:pull`;
      try {
        start = await this.request('POST', this.url(`/blobs/uploads/${q}`), { scope, headers: { 'content-length': '0' } });
        await start.body?.cancel();
        if (start.status === 201) return 'mounted';
        if (start.status !== 202) start = undefined;
      } catch {
        start = undefined;
      }
    }
    if (start === undefined) {
      start = await this.request('POST', this.url('/blobs/uploads/'), { scope: 'pull,push', headers: { 'content-length': '0' } });
      await start.body?.cancel();
    }
    if (start.status !== 202) return this.fail(start, what);
    const location = start.headers.get('location');
    if (location === null) throw conflict(`${what}: registry ${this.domain} gave no upload location`);
    const put = new URL(location, this.base);
    put.searchParams.set('digest', digest);
    const res = await this.request('PUT', put.href, {
      scope: 'pull,push', headers: { 'content-type': 'application/octet-stream' }, body: open, size,
      lost: (code) => `${what}: the upload failed after it started (${code}); the registry keeps nothing of it: push again`,
    });
    await res.body?.cancel();
    if (res.status !== 201) return this.fail(res, what);
    return 'uploaded';
  }

  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string | undefined> {
    const res = await this.request('PUT', this.url(`/manifests/${reference}`), {
      scope: 'pull,push', headers: { 'content-type': mediaType }, body: () => new Uint8Array(bytes), size: bytes.length,
    });
    if (res.status !== 201) return this.fail(res, `manifest ${this.domain}/${this.repo}:${reference}`);
    await res.body?.cancel();
    return res.headers.get('docker-content-digest') ?? undefined;
  }
}

/** Node's codes for a certificate chain it does not trust. */
const TLS_TRUST = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED',
]);

/** Whether a fetch failed before it was connected (nothing was sent). */
function isConnectFailure(err: unknown): boolean {
  const code = reason(err);
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || TLS_TRUST.has(code) || code.startsWith('ERR_SSL_') || code === 'ERR_TLS_CERT_ALTNAME_INVALID';
}

function reason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
