// A Docker SDK (dockerode) driving cunikd --docker-host: create, wait registered before start,
// start, logs demultiplexed, inspect, remove, as an application using Docker's API would.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get, request } from 'node:http';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { cli, helloKernel, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
let docker: Docker;
let sockPath: string;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-sdk-'));
  const sock = join(dir, 'docker.sock');
  sockPath = sock;
  d = await startDaemon({ dir, args: ['--accel', 'tcg', '--docker-host', `unix://${sock}`], env: { CUNIK_DEBUG_RESOURCES: '1' } });
  assert.equal((await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: d.socket })).code, 0);
  docker = new Docker({ socketPath: sock, version: 'v1.44' });
});
after(async () => d?.stop());

test('dockerode: create, wait (registered before start), start, logs, inspect, remove', async () => {
  const c = await docker.createContainer({ Image: 'hello', Cmd: ['exit=7', 'from-sdk'], name: 'sdk' });
  assert.match(c.id, /^[0-9a-f]{64}$/);
  // A guest that exits at once: the wait is registered before start, so it cannot be missed.
  const waited = c.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
  await c.start();
  assert.equal((await waited).StatusCode, 7);

  const raw = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  const out = new PassThrough();
  const err = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  const ended = new Promise((r) => out.on('end', r));
  // Docker's demultiplexer reads the frames; anything unframed would come out garbled or not at all.
  const src = new PassThrough();
  docker.modem.demuxStream(src, out, err);
  src.on('end', () => out.end());
  src.end(raw);
  await ended;
  assert.match(text, /Hello from the Cunik test kernel/);
  assert.match(text, /cmdline: exit=7 from-sdk/);

  const info = await c.inspect();
  assert.equal(info.State.ExitCode, 7);
  assert.equal(info.State.Status, 'exited');
  assert.equal(info.Name, '/sdk');
  assert.deepEqual(info.Config.Cmd, ['exit=7', 'from-sdk']);
  const list = await docker.listContainers({ all: true });
  assert.deepEqual(list.map((x) => x.Names[0]), ['/sdk']);
  await c.remove();
  assert.deepEqual(await docker.listContainers({ all: true }), []);
  await assert.rejects(c.inspect(), (e: { statusCode?: number; message: string }) => e.statusCode === 404 && /No such container/.test(e.message));
});

test('dockerode: an unsupported setting is a 400 with Docker\'s message naming it', async () => {
  await assert.rejects(docker.createContainer({ Image: 'hello', HostConfig: { CapDrop: ['ALL'] } }), (e: { statusCode?: number; message: string }) => e.statusCode === 400 && /HostConfig\.CapDrop \(--cap-drop\) is not supported/.test(e.message));
  // A setting only some families honour is refused by the others, in their words.
  await assert.rejects(docker.createContainer({ Image: 'hello', Entrypoint: ['/bin/sh'] }), (e: { statusCode?: number; message: string }) => e.statusCode === 400 && /--entrypoint is not supported by the generic family: only a linux image's init runs another program/.test(e.message));
  await assert.rejects(docker.createContainer({ Image: 'nope' }), (e: { statusCode?: number; message: string }) => e.statusCode === 404 && /No such image: nope/.test(e.message));
  assert.deepEqual(await docker.listContainers({ all: true }), []);
});

test('a wait the client abandons (condition=removed, headers received) leaves the daemon serving', async () => {
  const c = await docker.createContainer({ Image: 'hello', Cmd: ['idle'], name: 'abandoned' });
  await new Promise<void>((resolve, reject) => {
    const req = request({ socketPath: sockPath, path: `/v1.44/containers/${c.id}/wait?condition=removed`, method: 'POST' }, (res) => {
      assert.equal(res.statusCode, 200);
      req.destroy(); // hung up while both waits are pending
      resolve();
    });
    req.on('error', () => undefined);
    req.once('error', reject);
    req.end();
  });
  // The daemon has heard the hang-up once the exit waiter is gone (the leak tests' debug endpoint).
  const pendingWaits = () =>
    new Promise<number>((resolve, reject) => get({ socketPath: d.socket, path: '/_debug/resources', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve((JSON.parse(body) as { pendingWaits: number }).pendingWaits));
    }).once('error', reject));
  await waitFor('the abandoned wait dropped', async () => ((await pendingWaits()) === 0 ? true : undefined));
  assert.equal(String(await docker.ping()), 'OK');
  await c.remove({ force: true });
  assert.deepEqual(await docker.listContainers({ all: true }), []);
});
