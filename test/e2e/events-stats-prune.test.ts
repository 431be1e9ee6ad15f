// events, stats, container/image/system prune and system df, through the real CLI against a
// real daemon and real QEMU (TCG).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ndjson } from '../../src/cli/format/lines.js';
import type { Event } from '../../src/api/events.js';
import type { InstanceStats } from '../../src/api/stats.js';
import type { DiskUsageResponse } from '../../src/api/prune.js';
import { cli, helloKernel, repo, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const run = (args: string[], input?: string) => cli(args, { socket: d.socket, ...(input !== undefined && { input }) });
const nowSeconds = (): string => (Date.now() / 1000).toFixed(6);
const lines = (s: string): string[] => s.split('\n').filter(Boolean);
const parseEvents = (s: string): Event[] => lines(s).map((l) => JSON.parse(l) as Event);

interface Listed {
  id: string;
  name: string;
  state: string;
  imageId: string;
}
const listAll = async (): Promise<Listed[]> => JSON.parse((await run(['ps', '-a', '--format', 'json'])).stdout) as Listed[];

async function ok(args: string[], input?: string): Promise<string> {
  const r = await run(args, input);
  assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  d = await startDaemon();
  await ok(['import', '--family', 'generic', helloKernel, 'hello']);
});
after(async () => d.stop());

test('events: create, start, die with the exit code, destroy of `run --rm hello exit=3`', async () => {
  const since = nowSeconds();
  const r = await run(['run', '--rm', '--name', 'ev3', 'hello', 'exit=3']);
  assert.equal(r.code, 3, r.stderr);
  // `run --rm` returns at the exit; the removal follows.
  await waitFor('ev3 removed', async () => !(await listAll()).some((i) => i.name === 'ev3') || undefined);
  // --until in the past: the replay, then the end of the stream.
  const events = parseEvents(await ok(['events', '--since', since, '--until', nowSeconds(), '--format', 'json', '--filter', 'instance=ev3']));
  const actions = events.map((e) => e.action);
  assert.deepEqual([...actions].sort(), ['create', 'destroy', 'die', 'start']);
  assert.equal(actions[0], 'create');
  assert.equal(actions.at(-1), 'destroy');
  assert.ok(actions.indexOf('die') < actions.indexOf('destroy'));
  for (const e of events) {
    assert.equal(e.type, 'instance');
    assert.match(e.id, /^[0-9a-f]{64}$/);
    assert.equal(e.attributes['name'], 'ev3');
    assert.equal(e.attributes['image'], 'hello');
    assert.equal(typeof e.time, 'number');
    assert.equal(e.time, Math.floor(e.timeNano / 1e9));
  }
  const die = events.find((e) => e.action === 'die')!;
  assert.equal(die.attributes['exitCode'], '3');
  const times = events.map((e) => e.timeNano);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'in time order');

  // Plain lines as docker events prints them; two filters of different keys must both match.
  const plain = await ok(['events', '--since', since, '--until', '0s', '--filter', 'type=instance', '--filter', 'event=die', '--filter', 'instance=ev3']);
  assert.deepEqual(lines(plain).length, 1, plain);
  assert.match(plain, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z instance die [0-9a-f]{64} \(exitCode=3, image=hello, name=ev3\)\n$/);
  // Values of one key are alternatives.
  const two = parseEvents(await ok(['events', '--since', since, '--until', '0s', '--format', 'json', '-f', 'event=create', '-f', 'event=destroy', '-f', 'instance=ev3']));
  assert.deepEqual(two.map((e) => e.action), ['create', 'destroy']);
  // A `since` after everything replays nothing.
  assert.equal(await ok(['events', '--since', nowSeconds(), '--until', '0s']), '');
});

test('events: image import, tag, untag, delete, with type and image filters', async () => {
  const since = nowSeconds();
  await ok(['tag', 'hello', 'evtag:v1']);
  await ok(['rmi', 'evtag:v1']);
  await ok(['import', '--family', 'generic', '--arg', 'evimg', helloKernel, 'evimg']);
  await ok(['rmi', 'evimg']);
  const events = parseEvents(await ok(['events', '--since', since, '--until', '0s', '--format', 'json', '--filter', 'type=image']));
  assert.deepEqual(
    events.map((e) => `${e.action} ${e.attributes['name'] ?? '-'}`),
    ['tag evtag:v1', 'untag evtag:v1', 'import evimg:latest', 'untag evimg:latest', 'delete -'],
  );
  for (const e of events) assert.match(e.id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(events[2]!.id, events[4]!.id, 'the deleted image is the imported one');
  const byImage = parseEvents(await ok(['events', '--since', since, '--until', '0s', '--format', 'json', '--filter', 'image=evimg']));
  assert.deepEqual(byImage.map((e) => e.action), ['import', 'untag']);
  const byId = parseEvents(await ok(['events', '--since', since, '--until', '0s', '--format', 'json', '--filter', `image=${events[2]!.id}`]));
  assert.deepEqual(byId.map((e) => e.action), ['import', 'untag', 'delete']);
});

test('events: live stream until a future time, relative since', async () => {
  const until = String(Math.ceil(Date.now() / 1000) + 6);
  // --since 1s replays what happens before the subscription is in place, so nothing is missed.
  const p = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${d.socket}`, 'events', '--since', '1s', '--until', until, '--format', 'json', '--filter', 'instance=live'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const closed = new Promise<number | null>((r) => p.on('close', r));
  await ok(['run', '-d', '--name', 'live', 'hello', 'idle']);
  await ok(['kill', 'live']);
  await ok(['rm', 'live']);
  await waitFor('the destroy event on the live stream', () => out.includes('"destroy"') || undefined, 5000);
  assert.equal(await closed, 0, 'the stream ends at --until');
  assert.deepEqual(parseEvents(out).map((e) => e.action), ['create', 'start', 'kill', 'die', 'destroy']);
  assert.equal(parseEvents(out).find((e) => e.action === 'die')!.attributes['exitCode'], '137');
});

test('events: bad since, until and filters are one-line errors, exit 125', async () => {
  for (const [args, message] of [
    [['events', '--since', 'yesterday'], /^cunik: invalid value for since: "yesterday"/],
    [['events', '--until', '10x'], /^cunik: invalid value for until: "10x"/],
    [['events', '--filter', 'colour=red'], /^cunik: invalid filter 'colour'/],
    [['events', '--filter', 'type=container'], /^cunik: invalid filter 'type=container'/],
    [['events', '--filter', 'nokey'], /^cunik: bad format of filter \(expected name=value\): nokey/],
  ] as const) {
    const r = await run([...args]);
    assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^cunik: [^\n]+\n$/);
    assert.match(r.stderr, message);
  }
});

test('stats: CPU %, RSS of the QEMU process, guest memory, uptime', async () => {
  const id = (await ok(['run', '-d', '--name', 'st', '-m', '48m', 'hello', 'idle'])).trim();
  await waitFor('ready', async () => (await run(['logs', 'st'])).stdout.includes('ready') || undefined);
  const [s] = JSON.parse(await ok(['stats', '--no-stream', '--format', 'json', 'st'])) as InstanceStats[];
  assert.equal(s!.id, id);
  assert.equal(s!.name, 'st');
  assert.equal(s!.state, 'running');
  assert.ok(Number.isInteger(s!.pid) && s!.pid! > 0);
  assert.match(readFileSync(`/proc/${s!.pid}/cmdline`, 'utf8'), /qemu-system/, 'the pid is the QEMU process');
  assert.ok(s!.memory.rss > 1024 * 1024, `RSS ${s!.memory.rss}`);
  const vmRss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s!.pid}/status`, 'utf8'))![1]) * 1024;
  assert.ok(Math.abs(vmRss - s!.memory.rss) < 16 * 1024 * 1024, `RSS ${s!.memory.rss} vs VmRSS now ${vmRss}`);
  assert.equal(s!.memory.guest, 48 * 1024 * 1024);
  assert.equal(typeof s!.cpuPercent, 'number');
  assert.ok(s!.cpuPercent >= 0 && s!.cpuPercent < 100, `an idle guest: ${s!.cpuPercent}%`);
  assert.ok(s!.cpuSeconds > 0);
  assert.ok(s!.uptimeSeconds >= 0 && s!.uptimeSeconds < 60);

  // The table, with every running instance by default.
  const table = await ok(['stats', '--no-stream']);
  assert.match(table, /^INSTANCE ID\s+NAME\s+CPU %\s+MEM USAGE \(RSS\) \/ GUEST MEM\s+UPTIME\n/);
  assert.match(table, new RegExp(`${id.slice(0, 12)}\\s+st\\s+\\d+\\.\\d\\d%\\s+[\\d.]+MiB / 48MiB\\s+\\d+s\\n`));

  // The API streams one report a second.
  const res = await d.client.stats('st', true);
  const reports: InstanceStats[] = [];
  for await (const r of ndjson<InstanceStats>(res)) {
    reports.push(r);
    if (reports.length === 2) break;
  }
  res.destroy();
  const gap = Date.parse(reports[1]!.read) - Date.parse(reports[0]!.read);
  assert.ok(gap >= 800 && gap <= 2000, `reports ${gap} ms apart`);

  // A stopped instance reports no process; an unknown one is an error.
  await ok(['stop', '-t', '0', 'st']);
  const [stopped] = JSON.parse(await ok(['stats', '--no-stream', '--format', 'json', 'st'])) as InstanceStats[];
  assert.equal(stopped!.pid, null);
  assert.equal(stopped!.memory.rss, 0);
  const unknown = await run(['stats', '--no-stream', 'nosuch']);
  assert.equal(unknown.code, 125);
  assert.equal(unknown.stderr, 'cunik: no such instance: nosuch\n');
  await ok(['rm', 'st']);
});

test('container prune asks first, then removes exactly the stopped instances', async () => {
  await ok(['create', '--name', 'p-created', 'hello']);
  await run(['run', '--name', 'p-exited', 'hello', 'exit=4']);
  const running = (await ok(['run', '-d', '--name', 'p-running', 'hello', 'idle'])).trim();

  for (const answer of ['n\n', '', 'maybe\n']) {
    const r = await run(['container', 'prune'], answer);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'WARNING! This will remove all stopped instances.\nAre you sure you want to continue? [y/N] \n');
    assert.deepEqual((await listAll()).map((i) => i.name).filter((n) => n.startsWith('p-')).sort(), ['p-created', 'p-exited', 'p-running']);
  }

  const stopped = (await listAll()).filter((i) => i.state === 'created' || i.state === 'exited').map((i) => i.id);
  assert.ok(stopped.length >= 2);
  const r = await run(['container', 'prune'], 'y\n');
  assert.equal(r.code, 0, r.stderr);
  const [prompt, rest] = r.stdout.split('[y/N] \n');
  assert.match(prompt!, /WARNING! This will remove all stopped instances/);
  const m = /^Deleted Instances:\n((?:[0-9a-f]{64}\n)+)\nTotal reclaimed space: [\d.]+k?B\n$/.exec(rest!);
  assert.ok(m, rest);
  assert.deepEqual(lines(m[1]!).sort(), [...stopped].sort());
  const left = await listAll();
  assert.deepEqual(left.map((i) => i.id), [running]);
  for (const id of stopped) assert.equal(existsSync(join(d.root, 'instances', id)), false);

  // -f skips the question; with nothing to remove it says so in Docker's words.
  const none = await run(['container', 'prune', '-f']);
  assert.equal(none.stdout, 'Total reclaimed space: 0B\n');
  await ok(['rm', '-f', 'p-running']);
});

test('image prune removes untagged images no instance uses', async () => {
  await ok(['import', '--family', 'generic', '--arg', 'dangling', helloKernel, 'dangle']);
  const imageId = (JSON.parse(await ok(['image', 'inspect', 'dangle'])) as { id: string }[])[0]!.id;
  await ok(['create', '--name', 'holder', 'dangle']);
  await ok(['rmi', '-f', 'dangle']); // untagged, kept: an instance uses it
  const listed = () => ok(['images', '--format', 'json']).then((s) => (JSON.parse(s) as { id: string; repoTags: string[] }[]).map((i) => i.id));
  assert.ok((await listed()).includes(imageId));

  let r = await run(['image', 'prune', '-f']);
  assert.equal(r.stdout, 'Total reclaimed space: 0B\n', 'in use: kept');
  await ok(['rm', 'holder']);

  r = await run(['image', 'prune'], 'n\n');
  assert.equal(r.stdout, 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] \n');
  assert.ok((await listed()).includes(imageId));

  r = await run(['image', 'prune', '-f']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^Deleted Images:\\ndeleted: ${imageId}\\n\\nTotal reclaimed space: [\\d.]+k?B\\n$`));
  assert.ok(!(await listed()).includes(imageId));
  assert.ok((await listed()).length >= 1, 'tagged images stay');
});

test('system df counts images and instances; system prune removes stopped instances, then dangling images', async () => {
  const running = (await ok(['run', '-d', '--name', 'df-running', 'hello', 'idle'])).trim();
  await ok(['create', '--name', 'df-created', 'hello']);
  await ok(['import', '--family', 'generic', '--arg', 'sysprune', helloKernel, 'sysprune']);
  await ok(['create', '--name', 'df-holder', 'sysprune']);
  await ok(['rmi', '-f', 'sysprune']);

  const df = JSON.parse(await ok(['system', 'df', '--format', 'json'])) as DiskUsageResponse;
  const images = JSON.parse(await ok(['images', '--format', 'json'])) as { id: string; size: number }[];
  const instances = await listAll();
  assert.equal(df.images.total, images.length);
  assert.equal(df.images.size, images.reduce((n, i) => n + i.size, 0));
  const usedIds = new Set(instances.map((i) => i.imageId));
  assert.equal(df.images.active, images.filter((i) => usedIds.has(i.id)).length);
  assert.equal(df.images.reclaimable, images.filter((i) => !usedIds.has(i.id)).reduce((n, i) => n + i.size, 0));
  assert.equal(df.instances.total, instances.length);
  assert.equal(df.instances.active, instances.filter((i) => i.state === 'running' || i.state === 'paused').length);
  assert.ok(df.instances.size > 0);
  assert.ok(df.instances.reclaimable > 0 && df.instances.reclaimable < df.instances.size);

  const table = await ok(['system', 'df']);
  assert.match(table, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\n/);
  assert.match(table, new RegExp(`\\nImages\\s+${df.images.total}\\s+${df.images.active}\\s+\\S+\\s+\\S+ \\(\\d+%\\)\\n`));
  assert.match(table, new RegExp(`\\nInstances\\s+${df.instances.total}\\s+${df.instances.active}\\s+\\S+\\s+\\S+ \\(\\d+%\\)\\n`));
  assert.match(table, new RegExp(`\\nLocal Volumes\\s+${df.volumes.total}\\s+${df.volumes.active}\\s+\\S+\\s+\\S+\\n`));
  assert.match(table, /\nBuild Cache\s+\d+\s+\d+\s+\S+\s+\S+\n$/, 'the build cache is the last line, as in docker system df');

  const refused = await run(['system', 'prune'], '');
  assert.match(refused.stdout, /^WARNING! This will remove:\n {2}- all stopped instances\n {2}- all dangling images\n\nAre you sure you want to continue\? \[y\/N\] \n$/);
  assert.equal((await listAll()).length, instances.length);

  const r = await run(['system', 'prune', '-f']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Deleted Instances:\n(?:[0-9a-f]{64}\n){2}\nDeleted Images:\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: [\d.]+k?B\n$/);
  assert.deepEqual((await listAll()).map((i) => i.id), [running]);
  const after = JSON.parse(await ok(['system', 'df', '--format', 'json'])) as DiskUsageResponse;
  assert.equal(after.instances.total, 1);
  assert.equal(after.instances.reclaimable, 0);
  assert.equal(after.images.total, df.images.total - 1);

  // -a: every image no instance uses, tagged ones too (untagged, then deleted); --volumes: the
  // anonymous volumes no instance uses. The running instance's image stays.
  await ok(['import', '--family', 'generic', helloKernel, 'spare:1']);
  await ok(['tag', 'spare:1', 'spare:2']);
  const spare = (await d.client.inspectImage('spare:1')).id;
  const warned = await run(['system', 'prune', '-a', '--volumes'], 'n\n');
  assert.match(warned.stdout, /^WARNING! This will remove:\n {2}- all stopped instances\n {2}- all anonymous volumes not used by at least one instance\n {2}- all images without at least one instance associated to them\n\n/);
  const all = await run(['system', 'prune', '-a', '--volumes', '-f']);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, new RegExp(`Deleted Images:\n(untagged: \\S+\n)*untagged: spare:1\nuntagged: spare:2\n(?:.*\n)*deleted: ${spare}\n`));
  const left = JSON.parse(await ok(['images', '--format', 'json'])) as { id: string }[];
  assert.deepEqual(left.map((i) => i.id), [(await d.client.inspectInstance('df-running')).imageId], 'only the image an instance uses stays');
  await ok(['rm', '-f', 'df-running']);
});

test('open events and stats streams end when the daemon stops, and do not hold it up', async () => {
  const other = await startDaemon();
  const follow = (args: string[]) => {
    const p = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${other.socket}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '', code: new Promise<number | null>((r) => p.on('close', r)) };
    p.stdout.on('data', (b: Buffer) => (out.stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out.stderr += b.toString()));
    return out;
  };
  try {
    assert.equal((await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: other.socket })).code, 0);
    assert.equal((await cli(['run', '-d', '--name', 'held', 'hello', 'idle'], { socket: other.socket })).code, 0);
    const events = follow(['events', '--format', 'json']);
    const stats = follow(['stats', '--format', 'json', 'held']);
    // Both streams are live once they have shown something.
    await waitFor('a stats report', () => stats.stdout.includes('"name":"held"') || undefined);
    await waitFor('a live event', async () => {
      await cli(['tag', 'hello', `probe:${Date.now()}`], { socket: other.socket });
      return events.stdout.includes('"tag"') || undefined;
    });
    const t0 = Date.now();
    other.proc.kill('SIGTERM');
    await new Promise((r) => other.proc.once('exit', r));
    assert.ok(Date.now() - t0 < 3000, `the daemon took ${Date.now() - t0} ms to stop`);
    assert.equal(await events.code, 0, events.stderr);
    assert.equal(await stats.code, 0, stats.stderr);
  } finally {
    await other.stop();
  }
});
