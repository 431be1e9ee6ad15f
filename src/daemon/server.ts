// The Engine API server: Fastify with TypeBox schemas, routes grouped by resource under /v1.
// This layer only translates HTTP to service calls; errors are mapped here and nowhere else.
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { API_VERSION } from '../api/schemas.js';
import { CunikError } from '../errors.js';
import { VERSION } from '../config/defaults.js';
import { imageRoutes, type ImagesBackend } from './routes/images.js';
import { instanceRoutes, type InstancesBackend } from './routes/instances.js';
import { systemRoutes, type SystemBackend } from './routes/system.js';
import { eventRoutes, type EventsBackend } from './routes/events.js';
import { pruneRoutes, type PruneBackend } from './routes/prune.js';
import { statsRoutes, type StatsBackend } from './routes/stats.js';
import { buildRoutes, type BuildBackend } from './routes/build.js';
import { distributionRoutes, type DistributionBackend } from './routes/distribution.js';
import { AJV_OPTIONS, describeValidation, parseQuery } from './validation.js';
import { volumeRoutes, type VolumesBackend } from './routes/volumes.js';
import { networkRoutes, type NetworksBackend } from './routes/networks.js';
import { debugRoutes, type DebugBackend } from './routes/debug.js';
import type { DaemonLogger } from './log.js';

export interface CoreBackends {
  instances: InstancesBackend;
  images: ImagesBackend;
  system: SystemBackend;
  volumes: VolumesBackend;
}

/** Events, stats, pruning and disk usage (backend-ops.ts). */
export interface OpsBackends {
  events: EventsBackend;
  stats: StatsBackend;
  prune: PruneBackend;
}

/** A daemon that is not root has no bridge networks (bridges, taps and nftables need root). */
const NO_BRIDGE_NETWORKS: NetworksBackend = {
  list: async () => [],
  create: async () => { throw new CunikError('CONFLICT', 'bridge networks need cunikd running as root; this daemon has the user and none networks'); },
  inspect: async (ref) => { throw new CunikError('NOT_FOUND', `no such network: ${ref}`); },
  remove: async (ref) => { throw new CunikError('NOT_FOUND', `no such network: ${ref}`); },
  prune: async () => ({ deleted: [] }),
  connect: async (ref) => { throw new CunikError('NOT_FOUND', `no such network: ${ref}`); },
  disconnect: async (ref) => { throw new CunikError('NOT_FOUND', `no such network: ${ref}`); },
};

export type Backends = CoreBackends & OpsBackends & { networks?: NetworksBackend; build?: BuildBackend; distribution?: DistributionBackend; /** Only with CUNIK_DEBUG_RESOURCES=1 (routes/debug.ts). */ debug?: DebugBackend };

export type App = FastifyInstance;

/** `logger`: the daemon's log (log.ts), which gets one entry per request; none: nothing is logged. */
export async function buildServer(backends: Backends, opts: { logger?: DaemonLogger } = {}): Promise<App> {
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger as FastifyBaseLogger } : { logger: false }),
    // One entry per request, written when its response ends (logRequests), instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Strict JSON types, unknown fields are errors (validation.ts); query strings are parsed by their schema first.
    ajv: { customOptions: { ...AJV_OPTIONS } },
    // Image uploads stream to disk; JSON bodies stay small.
    bodyLimit: 1024 * 1024,
    // Streams (logs -f, events, attach) must not keep a stopping daemon waiting.
    forceCloseConnections: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Cunik Engine API', version: VERSION, description: 'The API that cunikd serves and the cunik CLI uses.' },
    },
  });

  // Binary bodies (kernel files, image archives) reach handlers as streams.
  app.addContentTypeParser(['application/octet-stream', 'application/x-tar'], (_req, payload, done) => done(null, payload));

  app.setErrorHandler((err: FastifyError | CunikError, _req, reply) => {
    if (err instanceof CunikError) {
      return reply.status(err.status).send({ code: err.code, message: err.message, ...(err.field && { field: err.field }) });
    }
    if ((err as FastifyError).validation) {
      const { message, field } = describeValidation((err as FastifyError).validation!, (err as FastifyError).validationContext ?? 'body');
      return reply.status(400).send({ code: 'INVALID_ARGUMENT', message, field });
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status < 500) return reply.status(status).send({ code: 'INVALID_ARGUMENT', message: err.message });
    app.log.error(err);
    // A full disk is the host's state, not a bug: say so in a sentence, not "ENOSPC: ..., write".
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'ENOSPC' || errno === 'EDQUOT') {
      return reply.status(507).send({ code: 'INTERNAL', message: errno === 'ENOSPC' ? 'no space left on the disk holding the daemon root' : 'disk quota exceeded on the daemon root' });
    }
    return reply.status(500).send({ code: 'INTERNAL', message: err.message });
  });
  if (opts.logger) logRequests(app, opts.logger);
  app.addHook('preValidation', async (req) => {
    parseQuery(req.query as Record<string, unknown>, req.routeOptions.schema?.querystring as Parameters<typeof parseQuery>[1]);
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ code: 'NOT_FOUND', message: `no such endpoint: ${req.method} ${req.url}` }));

  await app.register(
    async (v1) => {
      instanceRoutes(v1, backends.instances);
      imageRoutes(v1, backends.images);
      systemRoutes(v1, backends.system);
      eventRoutes(v1, backends.events);
      statsRoutes(v1, backends.stats);
      pruneRoutes(v1, backends.prune);
      volumeRoutes(v1, backends.volumes);
      // The routes exist on every daemon (one API, one OpenAPI document); without root they say why they cannot work.
      networkRoutes(v1, backends.networks ?? NO_BRIDGE_NETWORKS);
      buildRoutes(v1, backends.build);
      if (backends.distribution) distributionRoutes(v1, backends.distribution);
      v1.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: `/${API_VERSION}` },
  );
  if (backends.debug) debugRoutes(app, backends.debug);
  await app.ready();
  return app;
}

/**
 * An entry per request when its response is over: method, route (the pattern, not the URL, which
 * may carry names), status, duration. On the raw response's close, so that streamed and hijacked
 * ones (logs -f, wait, attach) are logged too, and a client that went away shows as `aborted`.
 */
function logRequests(app: FastifyInstance, log: DaemonLogger): void {
  app.addHook('onRequest', (req, reply, done) => {
    const start = process.hrtime.bigint();
    reply.raw.once('close', () => {
      const durationMs = Number(process.hrtime.bigint() - start) / 1e6;
      const entry = { method: req.method, route: req.routeOptions.url ?? null, status: reply.raw.statusCode, durationMs: Math.round(durationMs * 1000) / 1000 };
      log.info(reply.raw.writableFinished ? entry : { ...entry, aborted: true }, 'request');
    });
    done();
  });
}
