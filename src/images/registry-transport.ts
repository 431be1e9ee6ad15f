// How the registry client reaches a registry: which scheme, and which CAs it trusts.
//
// Docker's rules, kept: HTTPS for every registry, plain HTTP only for loopback ones and those the
// user names insecure (cunikd --insecure-registry); a registry's own CA certificates in
// `certs.d/HOST[:PORT]/*.crt` (Docker's /etc/docker/certs.d convention), trusted besides the
// system's roots, and a client certificate there (`client.cert` + `client.key`) shown to it.
// Unlike Docker, which tries HTTPS first and falls back, the choice is made up
// front (no failed handshake per pull): a registry with a certs.d folder is spoken to over HTTPS
// only, loopback and insecure ones without one over HTTP.
//
// Node's fetch takes no CA, so a registry with its own CAs goes through node:https, its answer
// wrapped as a fetch Response (redirects followed, as fetch does).
import { readdirSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

export type Fetcher = (url: string | URL, init?: RequestInit & { duplex?: string }) => Promise<Response>;

/** Whether a registry host may be spoken to over plain HTTP without being named insecure. */
export function isLoopbackRegistry(domain: string): boolean {
  const host = domain.startsWith('[') ? domain.slice(0, domain.indexOf(']') + 1) : domain.split(':')[0]!;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The scheme for a registry: a pure decision from its name, the insecure mark and whether it has CAs. */
export function schemeFor(domain: string, opts: { insecure?: boolean; hasCA?: boolean }): 'https' | 'http' {
  if (opts.hasCA === true) return 'https';
  return opts.insecure === true || isLoopbackRegistry(domain) ? 'http' : 'https';
}

/** A registry's TLS material from certs.d: its CAs, and a client certificate when it asks for one. */
export interface RegistryTLS {
  folder: string;
  certs: Buffer[];
  client?: { cert: Buffer; key: Buffer };
}

/**
 * The CA certificates in `dir/DOMAIN/*.crt` and the client certificate `*.cert` with its `*.key`
 * (Docker's certs.d layout: the folder is named as the registry is, HOST:PORT; Docker's
 * client.cert/client.key), or undefined when the folder does not exist.
 */
export function registryCAs(dir: string | undefined, domain: string): RegistryTLS | undefined {
  if (dir === undefined || domain.includes('/') || domain.startsWith('.')) return undefined;
  const folder = join(dir, domain);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new Error(`cannot read the registry certificates in ${folder}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const certs = names.filter((n) => n.endsWith('.crt')).sort().map((n) => readFileSync(join(folder, n)));
  const pairs = names.filter((n) => n.endsWith('.cert')).sort();
  for (const k of names.filter((n) => n.endsWith('.key'))) {
    if (!pairs.includes(`${k.slice(0, -4)}.cert`)) throw new Error(`the client key ${join(folder, k)} has no certificate beside it (${k.slice(0, -4)}.cert)`);
  }
  if (pairs.length > 1) throw new Error(`${folder} holds several client certificates (${pairs.join(', ')}): keep one`);
  if (pairs.length === 0) return { folder, certs };
  const base = pairs[0]!.slice(0, -5);
  if (!names.includes(`${base}.key`)) throw new Error(`the client certificate ${join(folder, pairs[0]!)} has no key beside it (${base}.key)`);
  return { folder, certs, client: { cert: readFileSync(join(folder, pairs[0]!)), key: readFileSync(join(folder, `${base}.key`)) } };
}

/** node:https options for a registry's certs.d material: its CAs besides the system's roots, and the client certificate. */
function tlsOptions(tls: Pick<RegistryTLS, 'certs' | 'client'>): { ca: string[]; cert?: Buffer; key?: Buffer } {
  return { ca: [...rootCertificates, ...tls.certs.map((c) => c.toString('utf8'))], ...(tls.client && { cert: tls.client.cert, key: tls.client.key }) };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A fetch over node:https that trusts the registry's CAs besides the system's roots (and shows its client certificate). */
export function caFetch(tls: Pick<RegistryTLS, 'certs' | 'client'>): Fetcher {
  const https = new HttpsAgent({ keepAlive: true, ...tlsOptions(tls) });
  const http = new HttpAgent({ keepAlive: true });
  const one = (url: URL, init: RequestInit, hops: number): Promise<Response> => new Promise((resolve, reject) => {
    const method = init.method ?? 'GET';
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const secure = url.protocol === 'https:';
    const req = (secure ? httpsRequest : httpRequest)(url, { method, headers, agent: secure ? https : http });
    req.once('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
    req.once('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location !== undefined && (init.redirect ?? 'follow') === 'follow' && hops < 10) {
        res.resume();
        const next = new URL(location, url);
        const h = new Headers(init.headers);
        if (next.origin !== url.origin) h.delete('authorization'); // fetch drops it across origins too
        const again = status === 303 || ((status === 301 || status === 302) && method === 'POST');
        resolve(one(next, { ...init, headers: h, ...(again && { method: 'GET', body: null }) }, hops + 1));
        return;
      }
      const out = new Headers();
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
      const empty = method === 'HEAD' || status === 204 || status === 304;
      if (empty) res.resume();
      resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream), { status, statusText: res.statusMessage ?? '', headers: out }));
    });
    const body = init.body;
    if (body === undefined || body === null) req.end();
    else if (body instanceof Uint8Array || typeof body === 'string') req.end(body);
    else if (body instanceof Readable) body.once('error', (err) => req.destroy(err)).pipe(req);
    else {
      req.destroy();
      reject(new TypeError('fetch failed', { cause: new Error('unsupported request body') }));
    }
  });
  return (url, init = {}) => one(new URL(url), init, 0);
}

/** A blob's body as node:http gives it: bytes arrive as Buffers, with no web stream between (fetch's costs a third of a pull's CPU). */
export interface BlobResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
}

/** Agents for blob GETs: kept-alive, one per certs.d material (the system's roots for undefined). */
const plainAgent = new HttpAgent({ keepAlive: true });
const tlsAgents = new WeakMap<object, HttpsAgent>();
const systemAgent = new HttpsAgent({ keepAlive: true });
function tlsAgent(tls: Pick<RegistryTLS, 'certs' | 'client'> | undefined): HttpsAgent {
  if (tls === undefined) return systemAgent;
  let a = tlsAgents.get(tls);
  if (a === undefined) {
    a = new HttpsAgent({ keepAlive: true, ...tlsOptions(tls) });
    tlsAgents.set(tls, a);
  }
  return a;
}

/**
 * GET over node:http(s), redirects followed (an object store behind a registry answers blob GETs
 * with one; the authorization is dropped across origins, as fetch does). A failure to connect or
 * a lost connection rejects as fetch does (TypeError 'fetch failed' with the cause).
 */
export function streamGet(url: string | URL, headers: Record<string, string>, tls?: Pick<RegistryTLS, 'certs' | 'client'>): Promise<BlobResponse> {
  const one = (u: URL, h: Record<string, string>, hops: number): Promise<BlobResponse> => new Promise((resolve, reject) => {
    const secure = u.protocol === 'https:';
    const req = (secure ? httpsRequest : httpRequest)(u, { method: 'GET', headers: h, agent: secure ? tlsAgent(tls) : plainAgent });
    req.once('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
    req.once('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location !== undefined && hops < 10) {
        res.resume();
        const next = new URL(location, u);
        const nh = { ...h };
        if (next.origin !== u.origin) delete nh['authorization'];
        resolve(one(next, nh, hops + 1));
        return;
      }
      resolve({ status, headers: res.headers, body: res });
    });
    req.end();
  });
  return one(new URL(url), headers, 0);
}
