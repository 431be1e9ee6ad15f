// Event routes: GET /events streams newline-delimited JSON (replay, then live).
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../../api/schemas.js';
import { EventsQuery } from '../../api/events.js';
import { openStreams } from '../open-streams.js';

export interface EventsBackend {
  /** Validates the query at once (throws INVALID_ARGUMENT); the stream yields Event objects. */
  events(query: EventsQuery): Readable;
}

const errors = { 400: ErrorBody, 500: ErrorBody };

export function eventRoutes(app: FastifyInstance, backend: EventsBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['system'];
  // Open streams end when the server closes: a follower must not hold up the daemon's shutdown.
  const track = openStreams(app);

  r.get('/events', { schema: { tags, summary: 'Stream instance and image events as newline-delimited JSON (Event objects)', querystring: EventsQuery, produces: ['application/x-ndjson'], response: { ...errors } } }, async (req, reply) => {
    const events = backend.events(req.query);
    // Headers go out at once: once a client has them, it hears every later event.
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson' });
    reply.raw.flushHeaders();
    const untrack = track(reply.raw, () => {
      events.destroy();
      reply.raw.end();
    });
    reply.raw.on('close', () => {
      untrack();
      events.destroy();
    });
    // A slow reader holds events back in the stream, which cuts it off if it falls too far behind.
    events.on('data', (e: unknown) => {
      if (!reply.raw.write(`${JSON.stringify(e)}\n`)) {
        events.pause();
        reply.raw.once('drain', () => events.resume());
      }
    });
    events.on('end', () => reply.raw.end());
    events.on('error', () => reply.raw.destroy());
  });
}
