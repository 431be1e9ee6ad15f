// Docker's /containers routes, each translated onto one call of the instances backend (or stats,
// events). Streams follow Docker's wire rules: headers first (so a client knows its wait or follow
// is registered), output framed (stream.ts) since a unikernel's console is never a TTY here.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { CreateInstanceRequest, UpdateInstanceRequest, type InstanceSummary, type LogsQuery } from '../../api/schemas.js';
import type { InstanceStats } from '../../api/stats.js';
import { conflict, CunikError, invalid } from '../../errors.js';
import { enableUpgrades, isTcpUpgrade } from '../../daemon/routes/attach.js';
import { checked } from './checked.js';
import { createRequest } from './create.js';
import { updateRequest } from './update.js';
import { flag, integer, nativeFilters, one, type Query } from './query.js';
import { framedConnection, framer } from './stream.js';
import { containerInspect, containerSummary, statsView } from './view.js';
import type { DockerBackends } from './server.js';

type Req = FastifyRequest<{ Params: { id: string }; Querystring: Query }>;

const MULTIPLEXED = 'application/vnd.docker.multiplexed-stream';
const RAW = 'application/vnd.docker.raw-stream';
/** Docker's logs query as the native one (since "0" or absent: from the start). */
function logsQuery(q: Query): LogsQuery {
  const tail = one(q, 'tail');
  const since = one(q, 'since');
  const until = one(q, 'until');
  if (tail !== undefined && tail !== 'all' && !/^\d+$/.test(tail)) throw invalid(`tail must be "all" or a number of lines, not ${JSON.stringify(tail)}`, 'tail');
  return {
    follow: flag(q, 'follow'),
    timestamps: flag(q, 'timestamps'),
    ...(tail !== undefined && tail !== '' && { tail }),
    ...(since !== undefined && since !== '' && since !== '0' && { since }),
    ...(until !== undefined && until !== '' && until !== '0' && { until }),
  };
}

export function containerRoutes(app: FastifyInstance, b: DockerBackends): void {
  const inst = b.instances;
  enableUpgrades(app);

  app.get('/containers/json', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const q = req.query;
    const limit = integer(q, 'limit');
    const all = flag(q, 'all') || (limit !== undefined && limit > 0);
    // Docker's filters map is the native API's too (instances/filter.ts).
    let list = JSON.parse(await inst.listJson(all, nativeFilters(q), flag(q, 'size'))) as InstanceSummary[];
    if (limit !== undefined && limit > 0) list = list.slice(0, limit);
    return list.map((s) => containerSummary(s, 'default'));
  });

  app.post('/containers/create', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    const request = checked(CreateInstanceRequest, createRequest(req.body, one(req.query, 'name')));
    const { id } = await inst.create(request);
    return reply.status(201).send({ Id: id, Warnings: [] });
  });

  app.get('/containers/:id/json', async (req: Req) => {
    const detail = inst.inspect(req.params.id);
    if (!flag(req.query, 'size')) return containerInspect(detail);
    // docker inspect -s: the sizes ps -s measures, for this one instance.
    const [sized] = JSON.parse(await inst.listJson(true, JSON.stringify({ id: [detail.id] }), true)) as InstanceSummary[];
    return { ...containerInspect(detail), SizeRw: sized?.sizeRw ?? 0, SizeRootFs: sized?.sizeRootFs ?? 0 };
  });

  const noContent = (reply: FastifyReply, _done?: void) => reply.status(204).send();
  /** Docker answers 304 to a start of a running container and a stop of a stopped one. */
  const running = (id: string): boolean => ['running', 'paused', 'restarting'].includes(inst.inspect(id).state);

  app.post('/containers/:id/start', async (req: Req, reply) => {
    if (running(req.params.id)) return reply.status(304).send();
    await inst.start(req.params.id);
    return noContent(reply);
  });
  app.post('/containers/:id/stop', async (req: Req, reply) => {
    if (!running(req.params.id)) return reply.status(304).send();
    await inst.stop(req.params.id, integer(req.query, 't'), one(req.query, 'signal') || undefined);
    return noContent(reply);
  });
  app.post('/containers/:id/restart', async (req: Req, reply) => {
    await inst.restart(req.params.id, integer(req.query, 't'), one(req.query, 'signal') || undefined);
    return noContent(reply);
  });
  app.post('/containers/:id/kill', async (req: Req, reply) => {
    const signal = one(req.query, 'signal');
    await inst.kill(req.params.id, signal || undefined);
    return noContent(reply);
  });
  app.post('/containers/:id/pause', async (req: Req, reply) => noContent(reply, void (await inst.pause(req.params.id))));
  app.post('/containers/:id/unpause', async (req: Req, reply) => noContent(reply, void (await inst.unpause(req.params.id))));

  app.post('/containers/:id/rename', async (req: Req, reply) => {
    const name = one(req.query, 'name');
    if (!name) throw invalid('name must be given', 'name');
    await inst.rename(req.params.id, name.replace(/^\//, ''));
    return noContent(reply);
  });

  app.post('/containers/:id/update', async (req: Req) => {
    const { warnings } = await inst.update(req.params.id, checked(UpdateInstanceRequest, updateRequest(req.body)));
    return { Warnings: warnings };
  });

  app.delete('/containers/:id', async (req: Req, reply) => {
    if (flag(req.query, 'link')) throw invalid('removing links is not supported: there are no legacy links', 'link');
    await inst.remove(req.params.id, flag(req.query, 'force'), flag(req.query, 'v'));
    return noContent(reply);
  });

  app.post('/containers/:id/wait', async (req: Req, reply) => {
    const condition = one(req.query, 'condition') || 'not-running';
    if (condition !== 'not-running' && condition !== 'next-exit' && condition !== 'removed') throw invalid(`wait condition ${JSON.stringify(condition)} is not one of not-running, next-exit, removed`, 'condition');
    const { id, state, exitCode } = inst.inspect(req.params.id);
    const gone = new AbortController();
    // Both waits are registered before the headers go out: a guest that exits at once is heard.
    const stopped = state === 'exited' || state === 'removing';
    const exited = condition === 'removed' && stopped ? Promise.resolve(exitCode ?? 0) : inst.wait(id, condition === 'removed' ? 'next-exit' : condition, gone.signal);
    exited.catch(() => undefined);
    const removed = condition === 'removed' ? destroyed(b, id, gone.signal) : undefined;
    removed?.catch(() => undefined); // a client that hangs up while the exit is awaited rejects both
    reply.hijack();
    reply.raw.on('close', () => gone.abort());
    reply.raw.writeHead(200, { 'content-type': 'application/json', 'api-version': '1.44' });
    reply.raw.flushHeaders();
    try {
      const code = await exited;
      await removed;
      reply.raw.end(`${JSON.stringify({ StatusCode: code, Error: null })}\n`);
    } catch (err) {
      // Removed before it exited: Docker's WaitResponse carries the reason. Else the client hung up.
      if (err instanceof CunikError) reply.raw.end(`${JSON.stringify({ StatusCode: -1, Error: { Message: err.message } })}\n`);
      else reply.raw.destroy();
    }
  });

  const attach = async (req: Req, reply: FastifyReply) => {
    if (!isTcpUpgrade(req.raw)) throw invalid('attach needs an HTTP upgrade: send "Connection: Upgrade" and "Upgrade: tcp"');
    const q = req.query;
    const take = inst.attach(req.params.id, { stdin: flag(q, 'stdin'), stdout: flag(q, 'stdout') || flag(q, 'stderr'), ...(one(q, 'detachKeys') && { detachKeys: one(q, 'detachKeys') }) });
    reply.hijack();
    const socket = req.raw.socket;
    // A container with a TTY has one raw stream, as Docker's: no frames.
    const tty = inst.inspect(req.params.id).config.tty === true;
    socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${tty ? RAW : MULTIPLEXED}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.44\r\n\r\n`);
    take(tty ? socket : framedConnection(socket));
  };
  app.post('/containers/:id/attach', attach);
  app.get('/containers/:id/attach', attach);

  app.get('/containers/:id/logs', async (req: Req, reply) => {
    const q = req.query;
    const stdout = flag(q, 'stdout');
    if (!stdout && !flag(q, 'stderr')) throw invalid('Bad parameters: you must choose at least one stream');
    const tty = inst.inspect(req.params.id).config.tty === true;
    const stream = inst.logs(req.params.id, logsQuery(q));
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': tty ? RAW : MULTIPLEXED, 'api-version': '1.44' });
    reply.raw.flushHeaders();
    pipeOut(stdout && !tty ? stream.pipe(framer()) : stream, reply, stream, !stdout);
  });

  app.get('/containers/:id/stats', async (req: Req, reply) => {
    const stream = flag(req.query, 'stream', true) && !flag(req.query, 'one-shot');
    const abort = new AbortController();
    const reports = b.stats.stats(req.params.id, stream, abort.signal);
    const cpus = availableParallelism();
    if (!stream) {
      for await (const s of reports) return statsView(s, undefined, cpus);
      throw conflict(`container ${req.params.id} has no stats`);
    }
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/json', 'api-version': '1.44' });
    reply.raw.flushHeaders();
    reply.raw.on('close', () => abort.abort());
    let pre: InstanceStats | undefined;
    try {
      for await (const s of reports) {
        reply.raw.write(`${JSON.stringify(statsView(s, pre, cpus))}\n`);
        pre = s;
      }
    } catch {
      // the instance went away mid-read
    } finally {
      reply.raw.end();
    }
  });

  // docker run -t sends the terminal's size at start and on each change: a serial console has no
  // window size a guest could read, so there is nothing to set (the size is checked, then kept by none).
  app.post('/containers/:id/resize', async (req: Req, reply) => {
    inst.inspect(req.params.id);
    for (const k of ['h', 'w']) if (one(req.query, k) !== undefined && !/^\d{1,5}$/.test(one(req.query, k)!)) throw invalid(`${k} must be a number of ${k === 'h' ? 'rows' : 'columns'}`, k);
    return reply.status(200).send();
  });

  // A VM has one process on the host, the VMM: that is what top shows.
  app.get('/containers/:id/top', async (req: Req) => {
    const d = inst.inspect(req.params.id);
    if (d.pid === null || !['running', 'paused'].includes(d.state)) throw conflict(`container ${d.name} is not running`);
    if (one(req.query, 'ps_args')) throw invalid('top ps options are not supported: the only process is the VMM', 'ps_args');
    return { Titles: ['PID', 'CMD'], Processes: [[String(d.pid), d.vm.argv.join(' ')]] };
  });
}

/** Copies `out` to the response; a client that hangs up closes `source`. `empty`: send nothing. */
function pipeOut(out: Readable, reply: FastifyReply, source: Readable, empty: boolean): void {
  reply.raw.on('close', () => source.destroy());
  source.on('error', () => reply.raw.destroy());
  if (empty) {
    source.destroy();
    reply.raw.end();
    return;
  }
  out.pipe(reply.raw);
}

/** Resolves when the instance is removed: its destroy event, heard from now on. */
function destroyed(b: DockerBackends, id: string, signal: AbortSignal): Promise<void> {
  const events = b.events.events({ filters: JSON.stringify({ instance: [id], event: ['destroy'] }) });
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      events.destroy();
      resolve();
    };
    events.once('data', done);
    events.once('error', (err) => reject(err));
    signal.addEventListener('abort', () => {
      events.destroy();
      reject(new Error('aborted'));
    }, { once: true });
  });
}
