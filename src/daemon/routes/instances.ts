// Instance routes: validate, call one backend method, map the result. Nothing else.
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  CreateInstanceRequest,
  CreateInstanceResponse,
  ErrorBody,
  IdParams,
  InstanceDetail,
  InstanceSummary,
  KillQuery,
  ListQuery,
  LogsQuery,
  RemoveInstanceQuery,
  RenameQuery,
  type LogsQuery as LogsQueryType,
  StopQuery,
  UpdateInstanceRequest,
  UpdateInstanceResponse,
  WaitQuery,
  WaitResponse,
} from '../../api/schemas.js';
import { CunikError } from '../../errors.js';
import { attachRoute, type AttachBackend } from './attach.js';
import type { WaitCondition } from '../../instances/service.js';

export interface InstancesBackend extends AttachBackend {
  /** The list, already as JSON (an array of InstanceSummary): see summariesJson. With `size`, measured on disk first. */
  listJson(all: boolean, filters?: string, size?: boolean): string | Promise<string>;
  inspect(ref: string): InstanceDetail;
  create(req: CreateInstanceRequest): Promise<CreateInstanceResponse>;
  start(ref: string): Promise<void>;
  stop(ref: string, timeoutSeconds?: number, signal?: string): Promise<void>;
  restart(ref: string, timeoutSeconds?: number, signal?: string): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  pause(ref: string): Promise<void>;
  rename(ref: string, name: string): Promise<void>;
  update(ref: string, req: UpdateInstanceRequest): Promise<UpdateInstanceResponse>;
  unpause(ref: string): Promise<void>;
  /** `volumes`: also its anonymous volumes (rm -v). */
  remove(ref: string, force: boolean, volumes: boolean): Promise<void>;
  /** Throws at once for an unknown instance; the promise settles at exit, or rejects once `signal` aborts. */
  wait(ref: string, condition: WaitCondition | undefined, signal: AbortSignal): Promise<number>;
  /** Throws at once for an unknown instance or a bad query; the stream follows. */
  logs(ref: string, q: LogsQueryType): Readable;
}

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 500: ErrorBody };
const NoContent = Type.Null({ description: 'No content' });

export function instanceRoutes(app: FastifyInstance, backend: InstancesBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['instances'];

  // The domain serialises the list itself (summariesJson: what never changes is serialised once per
  // instance), so the schema only documents it and the JSON goes out as it is.
  r.get(
    '/instances',
    { schema: { tags, summary: 'List instances', querystring: ListQuery, response: { 200: Type.Array(InstanceSummary), ...errors } }, serializerCompiler: () => JSON.stringify },
    // A string with a JSON content type is sent as it is (the typed send() only knows the schema's shape).
    async (req, reply) => reply.type('application/json; charset=utf-8').send((await backend.listJson(req.query.all ?? false, req.query.filters, req.query.size)) as never),
  );

  r.post('/instances', { schema: { tags, summary: 'Create an instance', body: CreateInstanceRequest, response: { 201: CreateInstanceResponse, ...errors } } }, async (req, reply) =>
    reply.status(201).send(await backend.create(req.body)),
  );

  r.get('/instances/:id', { schema: { tags, summary: 'Inspect an instance', params: IdParams, response: { 200: InstanceDetail, ...errors } } }, async (req) =>
    backend.inspect(req.params.id),
  );

  r.delete('/instances/:id', { schema: { tags, summary: 'Remove an instance', params: IdParams, querystring: RemoveInstanceQuery, response: { 204: NoContent, ...errors } } }, async (req, reply) => {
    await backend.remove(req.params.id, req.query.force ?? false, req.query.volumes ?? false);
    return reply.status(204).send(null);
  });

  r.post('/instances/:id/start', { schema: { tags, summary: 'Start an instance', params: IdParams, response: { 204: NoContent, ...errors } } }, async (req, reply) => {
    await backend.start(req.params.id);
    return reply.status(204).send(null);
  });

  r.post('/instances/:id/stop', { schema: { tags, summary: "Stop an instance as its stop signal says (the guest's power button, then the VM ended after t seconds; SIGKILL: at once)", params: IdParams, querystring: StopQuery, response: { 204: NoContent, ...errors } } }, async (req, reply) => {
    await backend.stop(req.params.id, req.query.t, req.query.signal);
    return reply.status(204).send(null);
  });

  r.post('/instances/:id/restart', { schema: { tags, summary: 'Restart an instance', params: IdParams, querystring: StopQuery, response: { 204: NoContent, ...errors } } }, async (req, reply) => {
    await backend.restart(req.params.id, req.query.t, req.query.signal);
    return reply.status(204).send(null);
  });

  r.post('/instances/:id/kill', { schema: { tags, summary: 'Send a signal to an instance', params: IdParams, querystring: KillQuery, response: { 204: NoContent, ...errors } } }, async (req, reply) => {
    await backend.kill(req.params.id, req.query.signal);
    return reply.status(204).send(null);
  });

  r.post('/instances/:id/rename', { schema: { tags, summary: 'Rename an instance', params: IdParams, querystring: RenameQuery, response: { 204: NoContent, ...errors } } }, async (req, reply) => {
    await backend.rename(req.params.id, req.query.name);
    return reply.status(204).send(null);
  });

  r.post('/instances/:id/update', { schema: { tags, summary: "Update an instance's memory, cpus (a running VM's from its next start) and restart policy (at once)", params: IdParams, body: UpdateInstanceRequest, response: { 200: UpdateInstanceResponse, ...errors } } }, async (req) =>
    backend.update(req.params.id, req.body),
  );

  r.post('/instances/:id/pause', { schema: { tags, summary: 'Pause an instance (freeze its vCPUs)', params: IdParams, response: { 204: NoContent, ...errors } } }, async (req, reply) => {
    await backend.pause(req.params.id);
    return reply.status(204).send(null);
  });

  r.post('/instances/:id/unpause', { schema: { tags, summary: 'Unpause an instance', params: IdParams, response: { 204: NoContent, ...errors } } }, async (req, reply) => {
    await backend.unpause(req.params.id);
    return reply.status(204).send(null);
  });

  // Like Docker's, the response headers go out at once, so a client knows the wait is registered
  // before it starts the instance; the body follows when the instance exits.
  r.post('/instances/:id/wait', { schema: { tags, summary: 'Wait for an instance to exit', params: IdParams, querystring: WaitQuery, response: { 200: WaitResponse, ...errors } } }, async (req, reply) => {
    // A client that hangs up takes its wait with it (nothing is kept until the instance exits).
    const gone = new AbortController();
    const exited = backend.wait(req.params.id, req.query.condition, gone.signal);
    reply.hijack();
    reply.raw.on('close', () => gone.abort());
    reply.raw.writeHead(200, { 'content-type': 'application/json' });
    reply.raw.flushHeaders();
    try {
      reply.raw.end(JSON.stringify({ exitCode: await exited }));
    } catch (err) {
      // Removed before it exited: said in the body (the headers are gone). Else the client hung up.
      if (err instanceof CunikError) reply.raw.end(JSON.stringify({ exitCode: -1, error: err.message }));
      else reply.raw.destroy();
    }
  });

  r.get('/instances/:id/logs', { schema: { tags, summary: 'The console output (the rotated backup, then the current log); with follow, streamed until the instance exits', params: IdParams, querystring: LogsQuery, produces: ['text/plain'], response: { ...errors } } }, async (req, reply) => {
    const stream = backend.logs(req.params.id, req.query);
    // Headers go out at once so a follower is attached before the output starts.
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    reply.raw.flushHeaders();
    reply.raw.on('close', () => stream.destroy());
    stream.on('error', () => reply.raw.destroy());
    stream.pipe(reply.raw);
  });

  attachRoute(app, backend);
}
