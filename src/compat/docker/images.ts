// Docker's /images routes onto the images and distribution backends. Image names hold "/" and
// ":" and the Go client does not escape them, so the per-image routes take the rest of the path.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { DistributionMessage } from '../../api/distribution.js';
import { CunikError, invalid } from '../../errors.js';
import type { Transfer } from '../../daemon/routes/distribution.js';
import { flag, many, nativeFilters, one, type Query } from './query.js';
import { imageHistoryView, imageInspect, imageSummary } from './view.js';
import type { DockerBackends } from './server.js';
import { unsupportedReason } from './unsupported.js';
import { familiar } from './names.js';

type Req = FastifyRequest<{ Params: { '*': string }; Querystring: Query }>;

/** X-Registry-Auth: base64url JSON {username, password, ...}; `{}` or absent: no credentials. */
export function registryAuth(header: string | string[] | undefined): { username: string; password: string } | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (h === undefined || h === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  } catch {
    throw invalid('X-Registry-Auth is not base64url-encoded JSON', 'X-Registry-Auth');
  }
  if (v === null || typeof v !== 'object') throw invalid('X-Registry-Auth must hold a JSON object', 'X-Registry-Auth');
  const { username, password, identitytoken } = v as Record<string, unknown>;
  if (typeof identitytoken === 'string' && identitytoken !== '') throw invalid('registry identity tokens are not supported: log in with a user name and password', 'X-Registry-Auth');
  if (username === undefined || username === '') return undefined;
  if (typeof username !== 'string' || typeof password !== 'string') throw invalid('X-Registry-Auth: username and password must be strings', 'X-Registry-Auth');
  return { username, password };
}

/** "name" + "tag" (a tag, or a digest) as one reference. */
function joinRef(name: string, tag: string | undefined): string {
  if (tag === undefined || tag === '') return name;
  return `${name}${tag.startsWith('sha256:') ? '@' : ':'}${tag}`;
}

/** Streams a pull or push as Docker's JSON messages; the result's own lines come from `done`. */
async function transfer(reply: FastifyReply, job: Transfer, first: DistributionMessage[], done: (aux: NonNullable<DistributionMessage['aux']>) => unknown[]): Promise<void> {
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, { 'content-type': 'application/json', 'api-version': '1.44' });
  let gone = false;
  // A client that goes away cancels a pull, as Docker's does.
  const cancel = new AbortController();
  out.on('close', () => {
    gone = true;
    if (!out.writableFinished) cancel.abort();
  });
  const send = (m: unknown): void => {
    if (!gone) out.write(`${JSON.stringify(m)}\n`);
  };
  first.forEach(send);
  try {
    const aux = await job.run((m) => send({ ...m, ...(m.progressDetail && { progressDetail: m.progressDetail }) }), cancel.signal);
    done(aux).forEach(send);
  } catch (err) {
    const message = err instanceof CunikError ? err.message : (err as Error).message;
    send({ errorDetail: { message }, error: message });
  } finally {
    out.end();
  }
}

/**
 * docker login's serveraddress as a registry HOST[:PORT]: the scheme and path dropped, and Docker
 * Hub's index server (what the CLI sends when given no registry) undefined, the daemon's default.
 */
export function loginRegistry(serveraddress: string): string | undefined {
  const host = serveraddress.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return ['', 'docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host) ? undefined : host;
}

export function imageRoutes(app: FastifyInstance, b: DockerBackends): void {
  const images = b.images;

  // docker login: the daemon checks the credentials; the CLI keeps them and sends them with each pull and push.
  app.post('/auth', async (req) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (body === null || typeof body !== 'object') throw invalid('send the credentials as a JSON object', 'body');
    const { username, password, serveraddress, identitytoken } = body;
    if (typeof identitytoken === 'string' && identitytoken !== '') throw invalid('registry identity tokens are not supported: log in with a user name and password', 'identitytoken');
    if (typeof username !== 'string' || username === '' || typeof password !== 'string') throw invalid('username and password must be given as strings', 'username');
    if (serveraddress !== undefined && typeof serveraddress !== 'string') throw invalid('serveraddress must be a string', 'serveraddress');
    await b.distribution.login(loginRegistry(serveraddress ?? ''), { username, password });
    return { Status: 'Login Succeeded', IdentityToken: '' };
  });

  app.get('/images/json', async (req: FastifyRequest<{ Querystring: Query }>) => {
    // Docker's filters map is the native API's too (images/filter.ts).
    return images.list(nativeFilters(req.query)).map(imageSummary);
  });

  // docker pull: fromImage (and tag); fromSrc (docker import of a root file system) has no counterpart.
  app.post('/images/create', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    const q = req.query;
    if (one(q, 'fromSrc')) throw invalid('docker import of a root file system is not supported: import a kernel with cunik import', 'fromSrc');
    const name = one(q, 'fromImage');
    if (!name) throw invalid('fromImage must be given', 'fromImage');
    if (one(q, 'platform') && !/^linux(\/amd64)?$/.test(one(q, 'platform')!)) throw invalid(`platform ${one(q, 'platform')} is not supported: only linux/amd64`, 'platform');
    const reference = joinRef(familiar(name), one(q, 'tag'));
    const auth = registryAuth(req.headers['x-registry-auth']);
    const job = b.distribution.pull({ reference, ...(auth && { auth }) });
    await transfer(reply, job, [], (aux) => [{ status: `Digest: ${aux.digest}` }, { status: `Status: Downloaded newer image for ${aux.ref}` }]);
  });

  app.get('/images/get', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    const names = many(req.query, 'names').map(familiar);
    if (names.length === 0) throw invalid('names must be given', 'names');
    const { stream, failure } = images.export(names);
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-tar', 'api-version': '1.44' });
    reply.raw.on('close', () => stream.destroy());
    // An archive cut short must not look whole: with no trailers in Docker's API, the connection is broken off.
    stream.on('end', () => (failure() === undefined ? reply.raw.end() : reply.raw.destroy()));
    stream.on('error', () => reply.raw.destroy());
    stream.pipe(reply.raw, { end: false });
  });

  app.post('/images/load', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    const body = req.body as Readable | undefined;
    if (!body || typeof body.pipe !== 'function') throw invalid('send the image archive (docker save or an OCI layout tarball) as the body');
    const { loaded } = await images.load(body);
    const lines = loaded.flatMap((i) => (i.repoTags.length ? i.repoTags.map((t) => `Loaded image: ${t}\n`) : [`Loaded image ID: ${i.id}\n`]));
    // ?quiet only silences progress, which a load here has none of: the names are always told.
    return reply.type('application/json').send(lines.map((l) => JSON.stringify({ stream: l })).join('\n') + '\n');
  });

  app.get('/images/*', async (req: Req, reply) => {
    const path = req.params['*'];
    const slash = path.lastIndexOf('/');
    const name = familiar(decodeURIComponent(path.slice(0, slash)));
    if (path.endsWith('/json')) return imageInspect(images.inspect(name));
    if (path.endsWith('/history')) return imageHistoryView(images.inspect(name));
    return reply.status(501).send({ message: unsupportedReason('GET', req.url) });
  });

  app.delete('/images/*', async (req: Req) => {
    const r = await images.remove(familiar(decodeURIComponent(req.params['*'])), flag(req.query, 'force'));
    return [...r.untagged.map((u) => ({ Untagged: u })), ...r.deleted.map((d) => ({ Deleted: d }))];
  });

  app.post('/images/*', async (req: Req, reply) => {
    const path = req.params['*'];
    const action = path.slice(path.lastIndexOf('/') + 1);
    const name = familiar(decodeURIComponent(path.slice(0, path.lastIndexOf('/'))));
    if (action === 'tag') {
      const repo = one(req.query, 'repo');
      if (!repo) throw invalid('repo must be given', 'repo');
      await images.tag(name, joinRef(familiar(repo), one(req.query, 'tag') || 'latest'));
      return reply.status(201).send();
    }
    if (action === 'push') {
      const tag = one(req.query, 'tag');
      const ref = joinRef(name, tag);
      const auth = registryAuth(req.headers['x-registry-auth']);
      const job = b.distribution.push(ref, { ...(auth && { auth }) });
      await transfer(reply, job, [{ status: `The push refers to repository [${name}]` }], (aux) => [
        { status: `${tag || 'latest'}: digest: ${aux.digest} size: ${aux.size ?? 0}` },
        { progressDetail: {}, aux: { Tag: tag || 'latest', Digest: aux.digest, Size: aux.size ?? 0 } },
      ]);
      return;
    }
    return reply.status(501).send({ message: unsupportedReason('POST', req.url) });
  });
}
