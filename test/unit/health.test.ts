// Health checks: the --health-* flag parsers, the settings an instance gets from its request and
// its image, Docker's state machine (streak, retries, start period, last 5), ps's suffix, the probe
// target of a run, and the probes themselves against real loopback servers.
import assert from 'node:assert/strict';
import { createServer as httpServer } from 'node:http';
import { createServer as tcpServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { healthRequest, parseHealthHttp, parseHealthInterval, parseHealthRetries, parseHealthTcp } from '../../src/cli/parse-health.js';
import { afterProbe, HEALTH_LABEL, healthSuffix, imageHealth, resolveHealth, startingHealth, type HealthLogEntry, type HealthState } from '../../src/instances/health-spec.js';
import { HealthMonitor, probe } from '../../src/instances/health.js';
import { probeTarget } from '../../src/instances/launch.js';
import { statusLine, type InstanceRecord } from '../../src/instances/record.js';

test('--health-* flag values', () => {
  assert.equal(parseHealthTcp('80'), 80);
  for (const bad of ['0', '65536', 'x', '', '80/tcp']) assert.throws(() => parseHealthTcp(bad), /^Error: invalid --health-tcp/);
  assert.deepEqual(parseHealthHttp('80/healthz'), { port: 80, path: '/healthz' });
  assert.deepEqual(parseHealthHttp('/healthz?x=1'), { path: '/healthz?x=1' });
  assert.deepEqual(parseHealthHttp('8080'), { port: 8080, path: '/' });
  for (const bad of ['', 'healthz', '80 /x', '/a b', '99999/']) assert.throws(() => parseHealthHttp(bad), /^Error: invalid --health-http/);
  assert.equal(parseHealthInterval('200ms'), 200);
  assert.equal(parseHealthInterval('1m30s'), 90_000);
  for (const bad of ['200', '1ms', 'soon', '48h']) assert.throws(() => parseHealthInterval(bad), /^Error: invalid --health-interval/);
  assert.equal(parseHealthRetries('3'), 3);
  assert.throws(() => parseHealthRetries('0'), /invalid --health-retries: 0/);
});

test('the request the flags make', () => {
  assert.deepEqual(healthRequest({}), {});
  assert.deepEqual(healthRequest({ healthcheck: true }), {});
  assert.deepEqual(healthRequest({ healthcheck: false }), { healthcheck: { disable: true } });
  assert.deepEqual(healthRequest({ healthHttp: { port: 80, path: '/h' }, healthInterval: 200, healthRetries: 2, restartOnUnhealthy: true }), {
    healthcheck: { httpPath: '/h', httpPort: 80, intervalMs: 200, retries: 2 },
    restartOnUnhealthy: true,
  });
  assert.throws(() => healthRequest({ healthTcp: 80, healthHttp: { path: '/' } }), /conflicting options: --health-tcp and --health-http/);
});

const ctx = { ports: [] as { guestPort: number; proto: 'tcp' | 'udp' }[], exposed: [] as number[], network: 'user', restartPolicy: 'no' };

test('settings: the request, else the image, else the defaults; refusals in one line', () => {
  assert.equal(resolveHealth(undefined, undefined, false, ctx), undefined);
  assert.deepEqual(resolveHealth({ tcpPort: 6379 }, undefined, false, ctx), { test: 'tcp', port: 6379, intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 });
  const image = { httpPath: '/ok', intervalMs: 1000, retries: 5 };
  // The image's probe with the request's timing; the request's probe replaces the image's.
  assert.deepEqual(resolveHealth({ intervalMs: 200 }, image, false, { ...ctx, exposed: [80] }), { test: 'http', port: 80, path: '/ok', intervalMs: 200, timeoutMs: 30_000, retries: 5, startPeriodMs: 0 });
  assert.deepEqual(resolveHealth({ tcpPort: 81 }, image, false, ctx)?.test, 'tcp');
  // The HTTP port: given, else the first published TCP port, else the first exposed one.
  assert.equal(resolveHealth({ httpPath: '/' }, undefined, false, { ...ctx, ports: [{ guestPort: 53, proto: 'udp' }, { guestPort: 8080, proto: 'tcp' }], exposed: [80] })?.port, 8080);
  assert.equal(resolveHealth({ httpPath: '/', httpPort: 9 }, undefined, false, { ...ctx, exposed: [80] })?.port, 9);
  assert.throws(() => resolveHealth({ httpPath: '/' }, undefined, false, ctx), /which port\? Give it as PORT\//);
  assert.equal(resolveHealth({ disable: true }, image, false, { ...ctx, exposed: [80] }), undefined);
  assert.throws(() => resolveHealth({ disable: true, tcpPort: 1 }, undefined, false, ctx), /--no-healthcheck and --health-tcp/);
  assert.throws(() => resolveHealth({ intervalMs: 200 }, undefined, false, ctx), /--health-interval needs a probe/);
  assert.throws(() => resolveHealth({ tcpPort: 1 }, undefined, false, { ...ctx, network: 'none' }), /not --network none/);
  assert.throws(() => resolveHealth({ tcpPort: 1 }, undefined, true, ctx), /--restart-on-unhealthy needs a restart policy/);
  assert.throws(() => resolveHealth(undefined, undefined, true, { ...ctx, restartPolicy: 'always' }), /--restart-on-unhealthy needs a health check/);
  assert.equal(resolveHealth({ tcpPort: 1 }, undefined, true, { ...ctx, restartPolicy: 'on-failure' })?.restartOnUnhealthy, true);
});

test("the image's label is checked", () => {
  assert.equal(imageHealth({}), undefined);
  assert.deepEqual(imageHealth({ [HEALTH_LABEL]: '{"tcpPort":80,"retries":2}' }), { tcpPort: 80, retries: 2 });
  for (const bad of ['nope', '[]', '{"tcpPort":"80"}', '{"exec":"true"}', '{"tcpPort":80,"httpPath":"/"}', '{"intervalMs":1}']) {
    assert.throws(() => imageHealth({ [HEALTH_LABEL]: bad }), /the image's org\.cunik\.healthcheck label/, bad);
  }
});

const entry = (exitCode: number, i = 0): HealthLogEntry => ({ start: `t${i}`, end: `t${i}`, exitCode, output: exitCode === 0 ? 'ok' : 'refused' });

test("state machine: Docker's streak, retries and start period; the last 5 results", () => {
  let s: HealthState = startingHealth(undefined);
  s = afterProbe(s, entry(1), 2, true); // in the start period: not counted
  assert.deepEqual([s.status, s.failingStreak], ['starting', 0]);
  s = afterProbe(s, entry(1), 2, false);
  assert.deepEqual([s.status, s.failingStreak], ['starting', 1]);
  s = afterProbe(s, entry(1), 2, false);
  assert.deepEqual([s.status, s.failingStreak], ['unhealthy', 2]);
  s = afterProbe(s, entry(0), 2, false);
  assert.deepEqual([s.status, s.failingStreak], ['healthy', 0]);
  // Once healthy, a failure in the start period counts.
  s = afterProbe(s, entry(1), 1, true);
  assert.deepEqual([s.status, s.failingStreak], ['unhealthy', 1]);
  for (let i = 0; i < 7; i++) s = afterProbe(s, entry(0, i), 3, false);
  assert.deepEqual(s.log.map((e) => e.start), ['t2', 't3', 't4', 't5', 't6']);
  // A new run starts again, keeping the results.
  assert.deepEqual(startingHealth(s), { status: 'starting', failingStreak: 0, log: s.log });
});

test("ps STATUS shows health as Docker's does", () => {
  assert.equal(healthSuffix('starting'), '(health: starting)');
  const now = Date.parse('2026-01-01T00:03:00Z');
  const r = { state: 'running', startedAt: '2026-01-01T00:00:00Z', created: '2026-01-01T00:00:00Z', config: { health: { test: 'tcp' } }, health: { status: 'healthy', failingStreak: 0, log: [] } } as unknown as InstanceRecord;
  assert.equal(statusLine(r, now), 'Up 3 minutes (healthy)');
  assert.equal(statusLine({ ...r, config: {} } as unknown as InstanceRecord, now), 'Up 3 minutes');
});

test('probe target: the bridge address, or the user-mode forward on the loopback', () => {
  const net = { ipAddress: '10.0.2.15', prefixLen: 24, gateway: '10.0.2.2', dns: [] };
  assert.deepEqual(probeTarget(80, { ...net, mode: 'br1', ipAddress: '172.30.0.5', ports: [] }), { host: '172.30.0.5', port: 80 });
  assert.deepEqual(probeTarget(80, { ...net, mode: 'user', ports: [{ guestPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 18080 }] }), { host: '127.0.0.1', port: 18080, forwarded: true });
  assert.deepEqual(probeTarget(80, { ...net, mode: 'user', ports: [] }, { guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 40001 }), { host: '127.0.0.1', port: 40001, forwarded: true });
  assert.equal(probeTarget(80, { ...net, mode: 'user', ports: [{ guestPort: 80, proto: 'udp', hostIp: '0.0.0.0', hostPort: 1 }] }), null);
});

test('probes against real loopback servers; a stopped monitor leaves no timer', async () => {
  const web = httpServer((req, res) => {
    res.statusCode = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 503;
    res.end();
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  const port = (web.address() as AddressInfo).port;
  const t = { host: '127.0.0.1', port };
  const signal = new AbortController().signal;
  assert.equal((await probe({ test: 'http', path: '/ok', timeoutMs: 2000 }, t, signal)).exitCode, 0);
  assert.equal((await probe({ test: 'http', path: '/moved', timeoutMs: 2000 }, t, signal)).exitCode, 0);
  const down = await probe({ test: 'http', path: '/down', timeoutMs: 2000 }, t, signal);
  assert.deepEqual(down, { exitCode: 1, output: 'GET /down: HTTP 503 Service Unavailable' });
  assert.equal((await probe({ test: 'tcp', timeoutMs: 2000 }, t, signal)).exitCode, 0);
  // A server that accepts and never answers: the timeout fails the probe.
  const mute = tcpServer(() => undefined);
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  const slow = await probe({ test: 'http', path: '/', timeoutMs: 100 }, { host: '127.0.0.1', port: (mute.address() as AddressInfo).port }, signal);
  assert.deepEqual(slow, { exitCode: 1, output: 'Health check exceeded timeout (100ms)' });
  // Through a forward (passt accepts for the guest): a connection closed at once is a failure.
  const closer = tcpServer((c) => c.destroy());
  await new Promise<void>((r) => closer.listen(0, '127.0.0.1', r));
  const cport = (closer.address() as AddressInfo).port;
  assert.equal((await probe({ test: 'tcp', timeoutMs: 2000 }, { host: '127.0.0.1', port: cport }, signal)).exitCode, 0);
  assert.match((await probe({ test: 'tcp', timeoutMs: 2000 }, { host: '127.0.0.1', port: cport, forwarded: true }, signal)).output, /closed at once/);
  assert.equal((await probe({ test: 'tcp', timeoutMs: 2000 }, { ...t, forwarded: true }, signal)).exitCode, 0);
  closer.close();
  await new Promise<void>((r) => web.close(() => r()));
  const refused = await probe({ test: 'tcp', timeoutMs: 2000 }, t, signal);
  assert.match(refused.output, /ECONNREFUSED/);

  // The monitor: starting → unhealthy after 2 failures (the port is closed now), then stopped.
  const changes: string[] = [];
  let unhealthy!: () => void;
  const seen = new Promise<void>((resolve) => (unhealthy = resolve));
  const monitor = new HealthMonitor({ changed: (_r, s) => { changes.push(s); if (s === 'unhealthy') unhealthy(); } });
  const record = {
    id: 'x', state: 'running', startedAt: new Date().toISOString(), health: startingHealth(undefined), healthTarget: t,
    config: { health: { test: 'tcp', port: 1, intervalMs: 20, timeoutMs: 500, retries: 2, startPeriodMs: 0 } },
  } as unknown as InstanceRecord;
  monitor.start(record);
  assert.equal(monitor.active(), 1);
  await seen;
  monitor.stop('x');
  assert.equal(monitor.active(), 0);
  assert.deepEqual(changes, ['unhealthy']);
  assert.equal(record.health?.failingStreak, 2);
  assert.equal(record.health?.log.length, 2);
  mute.close();
});

test("a Cunikfile's health: key becomes the image's health check; mistakes name their line", async () => {
  const { parseCunikfile } = await import('../../src/build/cunikfile.js');
  const base = 'family: generic\nkernel: k.elf\nports: [80]\n';
  assert.deepEqual(parseCunikfile(`${base}health:\n  http: 80/healthz\n  interval: 200ms\n  timeout: 1s\n  retries: 2\n  start-period: 1m\n`).health, {
    httpPath: '/healthz', httpPort: 80, intervalMs: 200, timeoutMs: 1000, startPeriodMs: 60_000, retries: 2,
  });
  assert.deepEqual(parseCunikfile(`${base}health: { tcp: 6379 }\n`).health, { tcpPort: 6379 });
  assert.equal(parseCunikfile(base).health, undefined);
  assert.throws(() => parseCunikfile(`${base}health:\n  exec: [true]\n`), /Cunikfile:5: health\.exec: unknown key \(known: tcp, http, interval/);
  assert.throws(() => parseCunikfile(`${base}health:\n  tcp: 1\n  http: /\n`), /Cunikfile:6: health\.http: give either tcp or http/);
  assert.throws(() => parseCunikfile(`${base}health:\n  interval: 1s\n`), /Cunikfile:5: health: needs a probe/);
  assert.throws(() => parseCunikfile(`${base}health:\n  tcp: 1\n  interval: 1ms\n`), /Cunikfile:6: health\.interval: expected a duration/);
  assert.throws(() => parseCunikfile(`${base}labels: { org.cunik.healthcheck: x }\n`), /org\.cunik\.healthcheck is set by cunik build/);
});

test("events: event=health_status matches every health_status: STATUS, as Docker's filter", async () => {
  const { matches } = await import('../../src/events/filter.js');
  const e = (action: string) => ({ type: 'instance' as const, action, id: 'x', attributes: {}, time: 0, timeNano: 0 });
  assert.equal(matches({ event: ['health_status'] }, e('health_status: unhealthy')), true);
  assert.equal(matches({ event: ['health_status: healthy'] }, e('health_status: unhealthy')), false);
  assert.equal(matches({ event: ['health_status'] }, e('die')), false);
  assert.equal(matches({ event: ['die'] }, e('die')), true);
});
