// GET /instances/{id}/attach: an HTTP Upgrade to a raw, bidirectional stream (Docker's attach
// protocol): the client sends `Connection: Upgrade` and `Upgrade: tcp`, the daemon answers
// `101 UPGRADED` and the connection then carries the guest's console both ways, unframed.
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AttachQuery, ErrorBody, IdParams } from '../../api/schemas.js';
import { invalid } from '../../errors.js';

export interface AttachBackend {
  /** Checks that the instance can be attached (throws NOT_FOUND, CONFLICT...), then takes the connection. */
  attach(ref: string, q: AttachQuery): (connection: Socket) => void;
}

export const UPGRADE_RESPONSE = 'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.cunik.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 500: ErrorBody };
const upgraded = new WeakSet<object>();

function wantsUpgrade(req: IncomingMessage): boolean {
  return /\bupgrade\b/i.test(req.headers.connection ?? '') && (req.headers.upgrade ?? '').toLowerCase() === 'tcp';
}

/** The request came through enableUpgrades and asks for `Upgrade: tcp` (the socket is then the route's). */
export function isTcpUpgrade(req: IncomingMessage): boolean {
  return upgraded.has(req) && wantsUpgrade(req);
}

export function attachRoute(app: FastifyInstance, backend: AttachBackend): void {
  enableUpgrades(app);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/instances/:id/attach',
    {
      schema: {
        tags: ['instances'],
        summary: "Attach to an instance's serial console: upgrades the connection (Connection: Upgrade, Upgrade: tcp; answered 101) to a raw stream both ways",
        params: IdParams,
        querystring: AttachQuery,
        response: { 101: Type.Null({ description: 'Switching to the raw console stream' }), ...errors },
      },
    },
    async (req, reply) => {
      if (!isTcpUpgrade(req.raw)) throw invalid('attach needs an HTTP upgrade: send "Connection: Upgrade" and "Upgrade: tcp"');
      const take = backend.attach(req.params.id, req.query);
      reply.hijack();
      const socket = req.raw.socket;
      socket.write(UPGRADE_RESPONSE);
      take(socket);
    },
  );
}

/**
 * Node hands requests that ask for an upgrade to the server's 'upgrade' listeners, with the socket
 * already detached from the HTTP parser (so raw bytes after the head are not parsed as requests).
 * Route them through Fastify anyway, with a response bound to that socket, so they get the same
 * validation and error mapping as every other request.
 */
export function enableUpgrades(app: FastifyInstance): void {
  if (app.server.listenerCount('upgrade') > 0) return;
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(req);
    if (head.length) socket.unshift(head);
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    res.on('finish', () => socket.end());
    socket.on('error', () => socket.destroy());
    app.routing(req, res);
  });
}
