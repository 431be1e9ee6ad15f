// CunikHub's HTTP side: the OCI Distribution Spec v1.1 routes over Registry and Uploads. Routes
// only translate (paths, headers, bodies); names with slashes are matched here by the spec's URL
// shapes, the domain checks everything else.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { RegistryError, regErr } from './errors.js';
import { MAX_MANIFEST_BYTES } from './media.js';
import { checkDigest, checkName } from './names.js';
import type { Registry } from './registry.js';
import type { ChunkRange, Uploads } from './uploads.js';

/** What a request needs: `pull`, `push` or `delete` on a repository, or `catalog` on the registry. */
export interface Access {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

export interface Authorizer {
  /** Throws an UNAUTHORIZED/DENIED RegistryError (with its WWW-Authenticate) when not allowed. */
  check(req: FastifyRequest, reply: FastifyReply, access: Access[]): Promise<void>;
  /** Routes of the auth side (the token endpoint). */
  routes?(app: FastifyInstance): void;
}

export interface HubServerOptions {
  registry: Registry;
  uploads: Uploads;
  auth?: Authorizer;
  https?: { key: Buffer; cert: Buffer; ca?: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean };
  /** The web UI (src/hub/ui/), a plugin of its own served at /. */
  ui?: (app: FastifyInstance) => Promise<void>;
  /** Extension: GET /v2/_cunik/search (cunik search --filter), the UI's search. */
  search?: HubSearch;
}

export interface SearchHit {
  name: string;
  tags: number;
  families: string[];
  updated?: string | undefined;
}
/** Repositories matching name words (`q`), families and labels (`KEY=VALUE` or `KEY`), all required. */
export type HubSearch = (q: { q: string[]; family: string[]; label: string[] }) => Promise<SearchHit[]>;

type Q = Record<string, string | undefined>;
const ROUTES: [RegExp, string][] = [
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, 'uploads'],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, 'upload'],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, 'blob'],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, 'manifest'],
  [/^\/v2\/(.+)\/tags\/list$/, 'tags'],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, 'referrers'],
];
/** Extension: DELETE a whole repository (docs/hub.md). "_cunik" cannot be a repository name. */
const REPO_DELETE = /^\/v2\/_cunik\/repositories\/(.+)$/;

function count(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw regErr('UNSUPPORTED', `${what} must be a non-negative integer`, { status: 400 });
  return Number(v);
}

/** Content-Range of a chunk: "<start>-<end>" (the spec's), also "bytes <start>-<end>/<total|*>". */
export function parseContentRange(v: string | undefined): ChunkRange | undefined {
  if (v === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})(?:\/(?:\d+|\*))?$/.exec(v.trim());
  if (!m) throw regErr('RANGE_INVALID', `malformed Content-Range ${JSON.stringify(v.slice(0, 100))}`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

/** A Range request header for a blob of `size` bytes; undefined means the whole blob. */
export function parseRange(v: string | undefined, size: number): { start: number; end: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(v.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw regErr('RANGE_INVALID', `unsupported Range ${JSON.stringify(v.slice(0, 100))}`);
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) throw regErr('RANGE_INVALID', `range ${v} is outside the blob's ${size} bytes`);
  return { start, end };
}

async function readLimited(req: FastifyRequest, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw regErr('SIZE_INVALID', `manifest is larger than ${limit} bytes`, { status: 413 });
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req.raw as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) throw regErr('SIZE_INVALID', `manifest is larger than ${limit} bytes`, { status: 413 });
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

const uploadHeaders = (reply: FastifyReply, name: string, id: string, offset: number): FastifyReply =>
  reply
    .header('location', `/v2/${name}/blobs/uploads/${id}`)
    .header('range', `0-${offset > 0 ? offset - 1 : 0}`)
    .header('docker-upload-uuid', id)
    .header('oci-chunk-min-length', '0');

export async function buildHubServer(opts: HubServerOptions): Promise<FastifyInstance> {
  const { registry, uploads, auth } = opts;
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    ...(opts.https && { https: opts.https }),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  // Bodies (blobs, manifests) are read by the routes themselves, as streams.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  app.addHook('onRequest', async (_req, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
  });
  const trace = process.env['CUNIK_HUB_TRACE'] === '1' ? (req: FastifyRequest, reply: FastifyReply): void => void process.stderr.write(`${Date.now()} ${req.method} ${req.url} ${reply.statusCode}\n`) : undefined;
  if (trace) app.addHook('onResponse', async (req, reply) => trace(req, reply)); // not run for hijacked replies (blob GETs): those trace themselves
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof RegistryError) return reply.status(err.status).type('application/json').send(err.body());
    const e = err as { statusCode?: number; message: string; code?: string };
    const status = e.statusCode ?? 500;
    if (status >= 500 && e.code !== 'ERR_STREAM_PREMATURE_CLOSE') process.stderr.write(`cunik-hub: ${e.message}\n`);
    const code = status === 413 ? 'SIZE_INVALID' : status < 500 ? 'UNSUPPORTED' : 'UNKNOWN';
    return reply.status(status).type('application/json').send({ errors: [{ code, message: status >= 500 ? 'internal error' : e.message }] });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ errors: [{ code: 'NOT_FOUND', message: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` }] }));
  auth?.routes?.(app);
  if (opts.ui) await app.register(opts.ui);

  const allow = async (req: FastifyRequest, reply: FastifyReply, access: Access[]): Promise<void> => {
    if (auth) await auth.check(req, reply, access);
  };
  const repo = (name: string, ...actions: string[]): Access => ({ type: 'repository', name, actions });

  app.route({
    method: ['GET', 'HEAD'],
    url: '/v2/',
    handler: async (req, reply) => {
      await allow(req, reply, []);
      return reply.type('application/json').send('{}');
    },
  });

  app.route({
    method: ['GET'],
    url: '/v2/_catalog',
    handler: async (req, reply) => {
      const q = req.query as Q;
      const n = count(q['n'], 'n');
      await allow(req, reply, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      const page = await registry.catalog(n, q['last']);
      if (page.next !== undefined) reply.header('link', `</v2/_catalog?n=${n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
      return reply.type('application/json').send({ repositories: page.items });
    },
  });

  const search = opts.search;
  if (search) {
    // Extension (docs/hub.md): the web UI's search as JSON, to whoever may read the catalog.
    app.get('/v2/_cunik/search', async (req, reply) => {
      const q = req.query as Record<string, string | string[] | undefined>;
      const list = (k: string): string[] => { const v = q[k]; return (v === undefined ? [] : Array.isArray(v) ? v : [v]).slice(0, 50).map((x) => x.slice(0, 500)); };
      const n = count(typeof q['n'] === 'string' ? q['n'] : undefined, 'n');
      await allow(req, reply, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
      const hits = await search({ q: list('q'), family: list('family'), label: list('label') });
      return reply.type('application/json').send({ results: n === undefined ? hits : hits.slice(0, n) });
    });
  }

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'],
    url: '/v2/*',
    handler: async (req, reply) => {
      const path = req.url.split('?')[0]!;
      const del = REPO_DELETE.exec(path);
      if (del && req.method === 'DELETE') {
        const name = checkName(del[1]!);
        await allow(req, reply, [repo(name, 'delete')]);
        await registry.deleteRepository(name);
        return reply.status(202).send();
      }
      for (const [re, kind] of ROUTES) {
        const m = re.exec(path);
        if (!m) continue;
        const name = checkName(m[1]!);
        return dispatch(kind, name, m[2] ?? '', req, reply);
      }
      throw regErr('NAME_INVALID', `no such endpoint: ${req.method} ${path.slice(0, 200)}`, { status: 404 });
    },
  });

  async function dispatch(kind: string, name: string, arg: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const q = req.query as Q;
    const method = req.method;
    const length = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
    const body = req.raw as AsyncIterable<Buffer>;
    switch (`${kind} ${method}`) {
      case 'blob GET':
      case 'blob HEAD': {
        checkDigest(arg);
        await allow(req, reply, [repo(name, 'pull')]);
        const size = await registry.blobSize(name, arg);
        const range = parseRange(req.headers.range, size);
        reply.header('docker-content-digest', arg).header('accept-ranges', 'bytes').header('etag', `"${arg}"`).type('application/octet-stream');
        if (range) reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
        reply.header('content-length', String(range ? range.end - range.start + 1 : size));
        if (method === 'HEAD') return reply.send();
        // The body is written here, not through reply.send(stream): the copy reuses its buffers,
        // which a piped Readable cannot (src/hub/storage/fs.ts). Headers as set above.
        const copy = await registry.openBlobCopy(arg, range);
        reply.hijack();
        const res = reply.raw;
        // A write to a client gone away fails its callback (the copy stops) and is also emitted here.
        res.on('error', () => undefined);
        res.writeHead(reply.statusCode, reply.getHeaders() as Record<string, string>);
        try {
          await copy(res);
          res.end();
        } catch {
          res.destroy(); // the client sees the body cut short, never a wrong one
        }
        trace?.(req, reply);
        return reply;
      }
      case 'blob DELETE': {
        checkDigest(arg);
        await allow(req, reply, [repo(name, 'delete')]);
        await registry.deleteBlob(name, arg);
        return reply.status(202).send();
      }
      case 'uploads POST': {
        const mount = q['mount'];
        const from = q['from'];
        if (mount !== undefined) {
          checkDigest(mount);
          const access = [repo(name, 'pull', 'push')];
          if (from !== undefined) access.push(repo(from, 'pull'));
          await allow(req, reply, access);
          if (from !== undefined && (await registry.mount(name, mount, from))) {
            return reply.status(201).header('location', `/v2/${name}/blobs/${mount}`).header('docker-content-digest', mount).send();
          }
        } else await allow(req, reply, [repo(name, 'pull', 'push')]);
        const id = await uploads.start(name);
        const digest = q['digest'];
        if (digest !== undefined) {
          // Monolithic upload in one POST.
          await uploads.finish(name, id, checkDigest(digest), body, undefined, length);
          return reply.status(201).header('location', `/v2/${name}/blobs/${digest}`).header('docker-content-digest', digest).send();
        }
        return uploadHeaders(reply.status(202), name, id, 0).header('content-length', '0').send();
      }
      case 'upload GET': {
        await allow(req, reply, [repo(name, 'pull')]);
        const offset = await uploads.offset(name, arg);
        return uploadHeaders(reply.status(204), name, arg, offset).send();
      }
      case 'upload PATCH': {
        await allow(req, reply, [repo(name, 'pull', 'push')]);
        try {
          const offset = await uploads.append(name, arg, body, parseContentRange(req.headers['content-range']), length);
          return uploadHeaders(reply.status(202), name, arg, offset).header('content-length', '0').send();
        } catch (err) {
          if (err instanceof RegistryError && err.code === 'RANGE_INVALID') {
            const offset = await uploads.offset(name, arg).catch(() => 0);
            uploadHeaders(reply, name, arg, offset);
          }
          throw err;
        }
      }
      case 'upload PUT': {
        await allow(req, reply, [repo(name, 'pull', 'push')]);
        const digest = q['digest'];
        if (digest === undefined) throw regErr('DIGEST_INVALID', 'the digest query parameter is required to finish an upload');
        checkDigest(digest);
        const hasBody = (length ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
        await uploads.finish(name, arg, digest, hasBody ? body : undefined, parseContentRange(req.headers['content-range']), length);
        return reply.status(201).header('location', `/v2/${name}/blobs/${digest}`).header('docker-content-digest', digest).header('content-length', '0').send();
      }
      case 'upload DELETE': {
        await allow(req, reply, [repo(name, 'push')]);
        await uploads.cancel(name, arg);
        return reply.status(204).send();
      }
      case 'manifest GET':
      case 'manifest HEAD': {
        await allow(req, reply, [repo(name, 'pull')]);
        const m = await registry.getManifest(name, arg);
        reply.type(m.mediaType).header('docker-content-digest', m.digest).header('etag', `"${m.digest}"`).header('content-length', String(m.body.length));
        return method === 'HEAD' ? reply.send() : reply.send(m.body);
      }
      case 'manifest PUT': {
        await allow(req, reply, [repo(name, 'pull', 'push')]);
        const raw = await readLimited(req, MAX_MANIFEST_BYTES);
        const r = await registry.putManifest(name, arg, raw, req.headers['content-type']);
        if (r.subject) reply.header('oci-subject', r.subject);
        return reply.status(201).header('location', `/v2/${name}/manifests/${r.digest}`).header('docker-content-digest', r.digest).header('content-length', '0').send();
      }
      case 'manifest DELETE': {
        await allow(req, reply, [repo(name, 'delete')]);
        await registry.deleteManifest(name, arg);
        return reply.status(202).send();
      }
      case 'tags GET': {
        const n = count(q['n'], 'n');
        await allow(req, reply, [repo(name, 'pull')]);
        const page = await registry.tags(name, n, q['last']);
        if (page.next !== undefined) reply.header('link', `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
        return reply.type('application/json').send({ name, tags: page.items });
      }
      case 'referrers GET': {
        checkDigest(arg);
        await allow(req, reply, [repo(name, 'pull')]);
        const r = await registry.referrers(name, arg, q['artifactType']);
        if (r.filtered) reply.header('oci-filters-applied', 'artifactType');
        return reply.type('application/vnd.oci.image.index.v1+json').send(Buffer.from(r.body));
      }
      default:
        throw regErr('UNSUPPORTED', `${method} is not supported on this endpoint`);
    }
  }

  await app.ready();
  return app;
}
