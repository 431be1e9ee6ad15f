// Docker's /volumes, /networks and /events routes onto the volume, network and event backends.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CreateNetworkRequest } from '../../api/networks.js';
import { CreateVolumeRequest } from '../../api/volumes.js';
import { invalid } from '../../errors.js';
import { localDriverOpts } from '../../volumes/driver-opts.js';
import { checked } from './checked.js';
import { filters, flag, nativeFilters, one, type Query } from './query.js';
import { eventView, modeNetwork, networkView, volumeView } from './view.js';
import type { DockerBackends } from './server.js';

type Req = FastifyRequest<{ Params: { name: string }; Querystring: Query }>;
type Json = Record<string, unknown>;

const MODES = ['user', 'none'] as const;
const isMode = (n: string): n is (typeof MODES)[number] => (MODES as readonly string[]).includes(n);

function body(v: unknown): Json {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid('invalid request: the body must be a JSON object', 'body');
  return v as Json;
}

/** Fields Docker sends that must be at their zero value here. */
function refuse(o: Json, fields: Record<string, string>): void {
  for (const [k, why] of Object.entries(fields)) {
    const v = o[k];
    if (v !== undefined && v !== null && v !== false && v !== '' && !(typeof v === 'object' && Object.keys(v).length === 0)) throw invalid(`${k} is not supported: ${why}`, k);
  }
}

export function resourceRoutes(app: FastifyInstance, b: DockerBackends): void {
  app.get('/volumes', async (req: FastifyRequest<{ Querystring: Query }>) => {
    // Docker's filters map is the native list's too (volumes/filter.ts).
    const text = nativeFilters(req.query);
    const list = await b.volumes.list(text !== undefined ? { filters: text } : {});
    return { Volumes: list.map(volumeView), Warnings: [] };
  });

  app.post('/volumes/create', async (req, reply) => {
    const o = body(req.body);
    const { sizeBytes, device } = localDriverOpts(body(o['DriverOpts']));
    const driver = o['Driver'] === 'local' || o['Driver'] === '' ? undefined : o['Driver'];
    const request = checked(CreateVolumeRequest, {
      ...(o['Name'] !== undefined && o['Name'] !== '' && { name: o['Name'] as string }),
      ...(driver !== undefined && { driver: driver as 'block' }),
      ...(sizeBytes !== undefined && { sizeBytes }),
      ...(device !== undefined && { device }),
      ...(o['Labels'] !== undefined && o['Labels'] !== null && { labels: o['Labels'] as Record<string, string> }),
    });
    return reply.status(201).send(volumeView(await b.volumes.create(request)));
  });

  app.get('/volumes/:name', async (req: Req) => volumeView(await b.volumes.inspect(req.params.name)));
  app.delete('/volumes/:name', async (req: Req, reply) => {
    await b.volumes.remove(req.params.name, flag(req.query, 'force'));
    return reply.status(204).send();
  });

  // The bridge networks, and the two modes that are no network record (user, none), which
  // --network names all the same.
  app.get('/networks', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const f = nativeFilters(req.query);
    const nets = (await b.networks.list(f)).map(networkView);
    return f ? nets : [...nets, ...MODES.map(modeNetwork)];
  });
  app.get('/networks/:name', async (req: Req) => (isMode(req.params.name) ? modeNetwork(req.params.name) : networkView(await b.networks.inspect(req.params.name))));
  app.post('/networks/create', async (req, reply) => {
    const o = body(req.body);
    refuse(o, { EnableIPv6: 'IPv6 networks are not supported', Ingress: 'swarm mode', ConfigFrom: 'config networks', Scope: 'only local networks', Options: 'driver options are not supported' });
    const driver = o['Driver'];
    if (driver !== undefined && driver !== '' && driver !== 'bridge') throw invalid(`network driver ${JSON.stringify(driver)} is not supported (only bridge)`, 'Driver');
    const ipam = body(o['IPAM']);
    const configs = ipam['Config'] ?? [];
    if (!Array.isArray(configs) || configs.length > 1) throw invalid('IPAM.Config: give at most one subnet', 'IPAM');
    const c = body(configs[0]);
    const str = (k: string): string | undefined => (typeof c[k] === 'string' && c[k] !== '' ? (c[k] as string) : undefined);
    const request = checked(CreateNetworkRequest, {
      name: o['Name'] as string,
      ...(str('Subnet') && { subnet: str('Subnet') }),
      ...(str('Gateway') && { gateway: str('Gateway') }),
      ...(str('IPRange') && { ipRange: str('IPRange') }),
      ...(o['Internal'] === true && { internal: true }),
      ...(o['Labels'] !== undefined && o['Labels'] !== null && { labels: o['Labels'] as Record<string, string> }),
    });
    const n = await b.networks.create(request);
    return reply.status(201).send({ Id: n.id, Warning: '' });
  });
  app.delete('/networks/:name', async (req: Req, reply) => {
    if (isMode(req.params.name)) throw invalid(`${req.params.name} is a built-in network mode and cannot be removed`);
    await b.networks.remove(req.params.name);
    return reply.status(204).send();
  });

  app.get('/events', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    const q = req.query;
    const f = filters(q, ['type', 'event', 'container', 'image'], 'events');
    const native: Record<string, string[]> = {};
    for (const [k, v] of f) {
      if (k === 'type') {
        const bad = v.find((t) => t !== 'container' && t !== 'image');
        if (bad !== undefined) throw invalid(`events of type ${bad} are not supported (only container and image)`, 'filters');
        native['type'] = v.map((t) => (t === 'container' ? 'instance' : t));
      } else native[k === 'container' ? 'instance' : k] = v;
    }
    const since = one(q, 'since');
    const until = one(q, 'until');
    const events = b.events.events({ ...(since && { since }), ...(until && { until }), ...(Object.keys(native).length && { filters: JSON.stringify(native) }) });
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/json', 'api-version': '1.44' });
    reply.raw.flushHeaders();
    reply.raw.on('close', () => events.destroy());
    events.on('data', (e: Parameters<typeof eventView>[0]) => {
      if (!reply.raw.write(`${JSON.stringify(eventView(e))}\n`)) {
        events.pause();
        reply.raw.once('drain', () => events.resume());
      }
    });
    events.on('end', () => reply.raw.end());
    events.on('error', () => reply.raw.destroy());
  });
}
