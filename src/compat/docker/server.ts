// The Docker Engine API compatibility layer (cunikd --docker-host): the subset of API 1.44 the
// docker CLI and SDKs need, served on its own socket and translated onto the daemon's backends
// (the same objects the native API's routes call). Errors are Docker's: {"message": "..."}.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { VERSION } from '../../config/defaults.js';
import { CunikError } from '../../errors.js';
import type { Backends } from '../../daemon/server.js';
import { containerRoutes } from './containers.js';
import { imageRoutes } from './images.js';
import { pruneRoutes } from './prune.js';
import { systemRoutes } from './system.js';
import { resourceRoutes } from './resources.js';
import { unsupportedReason } from './unsupported.js';
import { DOCKER_API_VERSION, DOCKER_MIN_API_VERSION, hostFacts, infoView, versionView } from './system-view.js';

export { DOCKER_API_VERSION, DOCKER_MIN_API_VERSION };

/** What the compat layer translates onto: the daemon's backends (daemon/server.ts), networks and distribution included. */
export type DockerBackends = Backends & Required<Pick<Backends, 'networks' | 'distribution'>>;

/** Native messages in Docker's words where clients look for them ("No such container: x"). */
function dockerMessage(e: CunikError): string {
  return e.message.replace(/^no such instance: /, 'No such container: ').replace(/^no such image: /, 'No such image: ');
}

const versionOf = (url: string): string | undefined => /^\/v(\d+\.\d+)\//.exec(url)?.[1];
const older = (a: string, b: string): boolean => {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am < bm || (am === bm && an < bn);
};

export async function buildDockerServer(backends: DockerBackends): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    // /v1.44/containers/json and /containers/json are the same route.
    rewriteUrl: (req) => (req.url ?? '/').replace(/^\/v\d+\.\d+(?=\/)/, ''),
  });

  // Go's client sends Content-Type: application/json with an empty body on some POSTs.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new CunikError('INVALID_ARGUMENT', 'invalid request: the body is not valid JSON'), undefined);
    }
  });
  // Archives (docker load) and anything else reach handlers as streams.
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.addHook('onRequest', async (req, reply) => {
    reply.header('Api-Version', DOCKER_API_VERSION);
    reply.header('Server', `Cunik/${VERSION} (linux)`);
    const v = versionOf(req.originalUrl);
    if (v !== undefined && older(v, DOCKER_MIN_API_VERSION)) throw new CunikError('INVALID_ARGUMENT', `client version ${v} is too old. Minimum supported API version is ${DOCKER_MIN_API_VERSION}, please upgrade your client to a newer version`);
    if (v !== undefined && older(DOCKER_API_VERSION, v)) throw new CunikError('INVALID_ARGUMENT', `client version ${v} is too new. Maximum supported API version is ${DOCKER_API_VERSION}`);
  });

  // Go's client reads an error's JSON only under exactly "application/json" (no charset).
  app.addHook('onSend', async (_req, reply, payload) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('application/json;')) reply.header('content-type', 'application/json');
    return payload;
  });

  app.setErrorHandler((err: FastifyError | CunikError, _req, reply) => {
    if (err instanceof CunikError) return reply.status(err.status).type('application/json').send({ message: dockerMessage(err) });
    const status = (err as FastifyError).statusCode ?? 500;
    return reply.status(status).type('application/json').send({ message: err.message });
  });
  app.setNotFoundHandler((req, reply) => reply.status(501).type('application/json').send({ message: unsupportedReason(req.method, req.url) }));

  const ping = (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply
      .headers({ 'API-Version': DOCKER_API_VERSION, OSType: 'linux', 'Docker-Experimental': 'false', 'Builder-Version': '1', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' })
      .type('text/plain; charset=utf-8')
      .send('OK');
  app.get('/_ping', ping); // and HEAD (Fastify adds it for every GET)

  app.get('/version', async () => versionView(backends.system.version(), hostFacts()));
  app.get('/info', async () => infoView(await backends.system.info(), hostFacts()));

  containerRoutes(app, backends);
  imageRoutes(app, backends);
  resourceRoutes(app, backends);
  pruneRoutes(app, backends);
  systemRoutes(app, backends);
  await app.ready();
  return app;
}

