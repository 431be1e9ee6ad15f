// Distribution routes: pull an image from a registry, push one to it. The request is checked
// before the stream starts (a malformed reference is a 400); progress and the result, or the
// failure, are then streamed as JSON lines (DistributionMessage).
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody, RefParams } from '../../api/schemas.js';
import { PullRequest, PushRequest, type DistributionMessage } from '../../api/distribution.js';
import { CunikError } from '../../errors.js';

export type Send = (m: DistributionMessage) => void;
export interface Transfer {
  /** `signal` is aborted when the client goes away before the transfer ends (a pull is then cancelled). */
  run(send: Send, signal: AbortSignal): Promise<NonNullable<DistributionMessage['aux']>>;
}

export interface DistributionBackend {
  /** Checks the request (throws INVALID_ARGUMENT) and returns the transfer to run. */
  pull(req: PullRequest): Transfer;
  push(ref: string, req: PushRequest): Transfer;
  /**
   * Checks credentials against a registry HOST[:PORT], or the default registry when undefined
   * (docker login has the daemon do it); resolves to the registry checked.
   */
  login(registry: string | undefined, auth: { username: string; password: string }): Promise<string>;
}

const errors = { 400: ErrorBody, 404: ErrorBody, 500: ErrorBody };

async function stream(app: FastifyInstance, reply: FastifyReply, job: Transfer): Promise<void> {
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, { 'content-type': 'application/x-ndjson' });
  let gone = false;
  const cancel = new AbortController();
  out.on('close', () => {
    gone = true;
    if (!out.writableFinished) cancel.abort();
  });
  const send: Send = (m) => {
    if (!gone) out.write(`${JSON.stringify(m)}\n`);
  };
  try {
    send({ aux: await job.run(send, cancel.signal) });
  } catch (err) {
    const e = err instanceof CunikError ? err : new CunikError('INTERNAL', (err as Error).message);
    if (e.code === 'INTERNAL') app.log.error(err);
    send({ error: e.message, errorDetail: { message: e.message, code: e.code, ...(e.field !== undefined && { field: e.field }) } });
  } finally {
    out.end();
  }
}

export function distributionRoutes(app: FastifyInstance, backend: DistributionBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['images'];
  r.post('/images/pull', { schema: { tags, summary: 'Pull an image from a registry; streams DistributionMessage lines', body: PullRequest, produces: ['application/x-ndjson'], response: { ...errors } } }, async (req, reply) => {
    const job = backend.pull(req.body);
    await stream(app, reply, job);
  });
  r.post('/images/:ref/push', { schema: { tags, summary: 'Push an image to the registry its name holds; streams DistributionMessage lines', params: RefParams, body: PushRequest, produces: ['application/x-ndjson'], response: { ...errors } } }, async (req, reply) => {
    const job = backend.push(req.params.ref, req.body);
    await stream(app, reply, job);
  });
}
