// Stats route: GET /instances/{id}/stats, one report or (stream) one NDJSON line a second.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody, IdParams } from '../../api/schemas.js';
import { InstanceStats, StatsQuery } from '../../api/stats.js';
import { openStreams } from '../open-streams.js';

export interface StatsBackend {
  /** Resolves the instance at once (throws NOT_FOUND); the reports follow. Aborting `signal` ends them. */
  stats(ref: string, stream: boolean, signal: AbortSignal): AsyncIterable<InstanceStats>;
}

const errors = { 400: ErrorBody, 404: ErrorBody, 500: ErrorBody };

export function statsRoutes(app: FastifyInstance, backend: StatsBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['instances'];
  // Open streams end when the server closes: a follower must not hold up the daemon's shutdown.
  const track = openStreams(app);

  r.get('/instances/:id/stats', { schema: { tags, summary: "Resource use of an instance's VMM process: CPU %, host memory (RSS), guest memory, uptime. With stream (the default), one InstanceStats per line every second while it runs.", params: IdParams, querystring: StatsQuery, produces: ['application/json', 'application/x-ndjson'], response: { 200: InstanceStats, ...errors } } }, async (req, reply) => {
    const stream = req.query.stream ?? true;
    const abort = new AbortController();
    const reports = backend.stats(req.params.id, stream, abort.signal);
    if (!stream) {
      for await (const report of reports) return report;
      return reply.status(404).send({ code: 'NOT_FOUND', message: `no such instance: ${req.params.id}` });
    }
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
    reply.raw.flushHeaders();
    const untrack = track(reply.raw, () => abort.abort());
    reply.raw.on('close', () => abort.abort());
    try {
      for await (const report of reports) reply.raw.write(`${JSON.stringify(report)}\n`);
    } catch {
      // The instance went away mid-read; the stream just ends.
    } finally {
      reply.raw.end();
      untrack();
    }
  });
}
