// Health checks with real guests (issue 15): a busybox httpd microVM (its Cunikfile's health: key,
// probed through the hidden loopback forward of user-mode networking: no -p) becomes healthy, shows
// in ps and inspect and ps --filter health=, and keeps being probed by a restarted daemon (live
// restore); a guest that never listens becomes unhealthy and, with --restart-on-unhealthy and
// --restart on-failure:1, is ended and restarted once (restartCount 1), then left exited. Everything
// is synchronised on `cunik events` (the real CLI's stream), not on sleeps. rm leaves no probe.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Event } from '../../src/api/events.js';
import { cli, cunikBin, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';

const missing = linuxGuestMissing().join('; ');
const env = { CUNIK_DEBUG_RESOURCES: '1' };
const accel = ['--accel', 'auto'];
let d: TestDaemon;
let ctx: string;
let stream: ChildProcess | undefined;
const events: Event[] = [];

const run = (args: string[]) => cli(args, { socket: d.socket });
async function ok(args: string[]): Promise<string> {
  const r = await run(args);
  assert.equal(r.code, 0, `cunik ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `cunik events --format json` of this daemon, collected into `events`. */
function follow(): void {
  stream?.kill('SIGKILL');
  stream = spawn(cunikBin, ['-H', `unix://${d.socket}`, 'events', '--format', 'json', '--filter', 'type=instance'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  stream.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim() !== '') events.push(JSON.parse(line) as Event);
    }
  });
}

/** The n-th event (1-based) of this action for this instance name, once it has come. */
const event = (name: string, action: string, n = 1, timeoutMs = 120_000): Promise<Event> =>
  waitFor(`${n} × "${action}" for ${name} (so far: ${events.filter((e) => e.attributes['name'] === name).map((e) => e.action).join(', ')})`, () => events.filter((e) => e.attributes['name'] === name && e.action === action)[n - 1], timeoutMs);

interface Detail { state: string; status: string; restartCount: number; health: { status: string; failingStreak: number; log: { start: string; exitCode: number; output: string }[] } | null; config: { health?: { test: string; port: number; path?: string; intervalMs: number; retries: number } } }
const inspect = async (name: string): Promise<Detail> => (JSON.parse(await ok(['inspect', name])) as Detail[])[0]!;
const debug = async (): Promise<{ healthProbes: number }> => {
  const r = await fetchDebug(d.socket);
  return JSON.parse(r) as { healthProbes: number };
};

function fetchDebug(socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    void import('node:http').then(({ get }) =>
      get({ socketPath: socket, path: '/_debug/resources' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject),
    );
  });
}

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-health-'));
  mkdirSync(join(ctx, 'www'));
  writeFileSync(join(ctx, 'www', 'index.html'), '<h1>healthy</h1>\n');
  writeFileSync(join(ctx, 'Cunikfile'), [
    'family: linux',
    'app: /bin/busybox',
    'files:',
    '  - { src: www/index.html, dst: /www/index.html }',
    'args: [httpd, -f, -p, "80", -h, /www]',
    'ports: [80]',
    'memory: 128M',
    // Failures while the guest boots are not counted (start-period); a success ends it.
    'health: { http: /index.html, interval: 200ms, timeout: 1s, retries: 2, start-period: 5m }',
    '',
  ].join('\n'));
  d = await startDaemon({ args: accel, env });
  const b = await run(['build', '-q', '-t', 'healthweb', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  follow();
});

after(async () => {
  stream?.kill('SIGKILL');
  await d?.stop();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test("the image's health check: healthy through the hidden forward; ps, inspect, filters; probing resumes after a daemon restart", async () => {
  await ok(['run', '-d', '--name', 'web', 'healthweb']);
  const healthy = await event('web', 'health_status: healthy');
  assert.match(healthy.attributes['output'] ?? '', /HTTP 200/);
  const i = await inspect('web');
  assert.deepEqual(i.config.health, { test: 'http', port: 80, path: '/index.html', intervalMs: 200, timeoutMs: 1000, retries: 2, startPeriodMs: 300_000 });
  assert.equal(i.health?.status, 'healthy');
  assert.equal(i.health?.failingStreak, 0);
  assert.ok(i.health!.log.length >= 1 && i.health!.log.length <= 5);
  assert.equal(i.health!.log.at(-1)!.exitCode, 0);
  // No port shown: the forward the probe uses is hidden.
  assert.match(await ok(['ps', '--filter', 'name=web']), /Up .* \(healthy\)/);
  assert.doesNotMatch(await ok(['ps', '--filter', 'name=web']), /->80/);
  assert.match(await ok(['ps', '-q', '--filter', 'health=healthy']), /\S/);
  assert.equal((await ok(['ps', '-q', '--filter', 'health=unhealthy'])).trim(), '');
  assert.equal((await ok(['ps', '-q', '--filter', 'health=none'])).trim(), '');
  assert.equal((await debug()).healthProbes, 1);

  // Live restore: a new daemon adopts the VM and probes it again (new results after its start).
  stream?.kill('SIGKILL');
  await d.stop({ keepFiles: true });
  const restarted = new Date().toISOString();
  d = await startDaemon({ args: accel, env, dir: d.dir });
  follow();
  await waitFor('a probe by the restarted daemon', async () => ((await inspect('web')).health?.log.some((e) => e.start > restarted && e.exitCode === 0) ? true : undefined), 30_000);
  assert.equal((await debug()).healthProbes, 1);

  // A run flag overrides the image's check; --no-healthcheck drops it.
  await ok(['create', '--name', 'plain', '--no-healthcheck', 'healthweb']);
  assert.equal((await inspect('plain')).health, null);
  assert.match(await ok(['ps', '-a', '-q', '--filter', 'health=none']), /\S/);
  await ok(['create', '--name', 'tcp', '--health-tcp', '80', '--health-interval', '1s', 'healthweb']);
  assert.equal((await inspect('tcp')).config.health?.test, 'tcp');
  assert.equal((await inspect('tcp')).config.health?.retries, 2);
  const bad = await run(['create', '--health-http', '/', '--network', 'none', 'healthweb']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /not --network none/);
  await ok(['rm', '-f', 'web', 'plain', 'tcp']);
  await waitFor('no probe left after rm', async () => ((await debug()).healthProbes === 0 ? true : undefined));
});

test('a guest that never listens becomes unhealthy; --restart-on-unhealthy restarts it once as a failure (on-failure:1)', async () => {
  // busybox sleep: the image's app, but nothing listens on port 80.
  // An HTTP probe: through user-mode's forward a TCP connect succeeds before the guest answers.
  await ok(['run', '-d', '--name', 'mute', '--health-http', '80/', '--health-start-period', '0s', '--health-interval', '200ms', '--health-timeout', '500ms', '--health-retries', '2',
    '--restart', 'on-failure:1', '--restart-on-unhealthy', 'healthweb', 'sleep', '3600']);
  const first = await event('mute', 'health_status: unhealthy');
  assert.match(first.attributes['output'] ?? '', /ECONNREFUSED|ECONNRESET|timeout|hang up/);
  const die = await event('mute', 'die');
  assert.notEqual(die.attributes['exitCode'], '0');
  await event('mute', 'start', 2);
  await event('mute', 'health_status: unhealthy', 2);
  await event('mute', 'die', 2);
  const i = await waitFor('mute exited for good', async () => {
    const r = await inspect('mute');
    return r.state === 'exited' ? r : undefined;
  }, 30_000);
  assert.equal(i.restartCount, 1);
  assert.equal(i.health?.status, 'unhealthy');
  assert.ok(i.health!.failingStreak >= 2);
  const actions = events.filter((e) => e.attributes['name'] === 'mute').map((e) => e.action);
  assert.deepEqual(actions.filter((a) => a === 'start' || a === 'die' || a.startsWith('health_status')), ['start', 'health_status: unhealthy', 'die', 'start', 'health_status: unhealthy', 'die']);
  assert.equal((await debug()).healthProbes, 0);
  await ok(['rm', 'mute']);
});
