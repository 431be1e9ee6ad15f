// The Engine API of a real daemon: validation, errors, OpenAPI, the root lock, persistence.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ApiError } from '../../src/client/index.js';
import { cli, helloKernel, repo, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
  await d.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
});
after(async () => d.stop());

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  assert.fail('expected an API error');
}

test('a wrong body gets 400 with a JSON error naming the field', async () => {
  const wrongType = await apiError(d.client.http.json('POST', '/v1/instances', { json: { image: 'hello', memoryMiB: 'lots' } }));
  assert.equal(wrongType.status, 400);
  assert.equal(wrongType.code, 'INVALID_ARGUMENT');
  assert.equal(wrongType.field, 'memoryMiB');
  assert.match(wrongType.message, /memoryMiB/);

  const unknown = await apiError(d.client.http.json('POST', '/v1/instances', { json: { image: 'hello', colour: 'red' } }));
  assert.equal(unknown.status, 400);
  assert.equal(unknown.field, 'colour');

  const missing = await apiError(d.client.http.json('POST', '/v1/instances', { json: {} }));
  assert.equal(missing.status, 400);
  assert.match(missing.message, /image/);

  const badName = await apiError(d.client.createInstance({ image: 'hello', name: 'no spaces allowed' }));
  assert.equal(badName.status, 400);
  assert.equal(badName.field, 'name');
});

test('unknown resources are 404, conflicts 409', async () => {
  assert.equal((await apiError(d.client.inspectInstance('ghost'))).status, 404);
  assert.equal((await apiError(d.client.inspectImage('ghost'))).status, 404);
  assert.equal((await apiError(d.client.http.json('GET', '/v1/nothing-here'))).status, 404);
  await d.client.createInstance({ image: 'hello', name: 'once' });
  const dup = await apiError(d.client.createInstance({ image: 'hello', name: 'once' }));
  assert.equal(dup.status, 409);
  assert.equal(dup.code, 'CONFLICT');
  await d.client.removeInstance('once');
});

test('the served OpenAPI document is the committed docs/openapi.json', async () => {
  const served = await d.client.http.json<unknown>('GET', '/v1/openapi.json');
  const committed = JSON.parse(readFileSync(join(repo, 'docs', 'openapi.json'), 'utf8')) as unknown;
  assert.deepEqual(served, committed);
});

test('exactly one daemon per root', () => {
  const second = spawnSync(process.execPath, [join(repo, 'bin', 'cunikd.js'), '--root', d.root, '--host', join(d.dir, 'other.sock'), '--accel', 'tcg'], { encoding: 'utf8', timeout: 10_000 });
  assert.notEqual(second.status, 0);
  assert.match(second.stderr, /^cunikd: another cunikd is using root .* \(pid \d+\)\n$/);
});

test('a guest that exits on its own is seen as exited promptly, with its exit code recorded', async () => {
  const { id } = await d.client.createInstance({ image: 'hello', args: ['exit=5'] });
  const waiting = await d.client.waitInstance(id, 'next-exit');
  await d.client.startInstance(id);
  const code = await waiting.exitCode;
  assert.equal(code, 5);
  const detail = await d.client.inspectInstance(id);
  assert.equal(detail.state, 'exited');
  assert.equal(detail.exitCode, 5);
  // Event-driven: the recorded finish is right after QEMU's exit, not a poll interval later.
  const log = statSync(join(d.root, 'instances', id, 'console.log'));
  const lag = Date.parse(detail.finishedAt!) - log.mtimeMs;
  assert.ok(lag < 100, `exit seen ${lag} ms after the last console write`);
  // The persisted record says the same (written atomically: no temp files left beside it).
  await waitFor('record persisted', () => JSON.parse(readFileSync(join(d.root, 'instances', id, 'instance.json'), 'utf8')).state === 'exited' || undefined);
  assert.deepEqual(readdirSync(join(d.root, 'instances', id)).filter((f) => f.endsWith('.tmp')), []);
  await d.client.removeInstance(id);
});

test('create with start: true starts it in the same request, as run -d does', async () => {
  const since = String(Date.now() / 1000 - 1);
  const { id } = await d.client.createInstance({ image: 'hello', args: ['idle'], start: true });
  const detail = await d.client.inspectInstance(id); // no wait: running as the request returns
  assert.equal(detail.state, 'running');
  assert.ok(detail.pid !== null && detail.pid > 0);
  // Its events are the two of a create and a start.
  const res = await d.client.events({ since, until: String(Date.now() / 1000), filters: { instance: [id] } });
  let text = '';
  for await (const chunk of res) text += String(chunk);
  assert.deepEqual(
    text.trim().split('\n').map((l) => (JSON.parse(l) as { action: string }).action),
    ['create', 'start'],
  );
  await d.client.removeInstance(id, true);
});

test('the console log holds the whole output and logs returns it', async () => {
  const { id } = await d.client.createInstance({ image: 'hello', args: ['exit=0', 'marker'] });
  const waiting = await d.client.waitInstance(id, 'next-exit');
  await d.client.startInstance(id);
  await waiting.exitCode;
  const res = await d.client.logs(id);
  let text = '';
  for await (const chunk of res) text += String(chunk);
  assert.match(text, /Hello from the Cunik test kernel/);
  assert.match(text, /cmdline: exit=0 marker/);
  await d.client.removeInstance(id);
});

test('records survive a daemon restart', async () => {
  await d.client.createInstance({ image: 'hello', name: 'survivor' });
  await d.stop({ keepFiles: true });
  d = await startDaemon({ dir: d.dir });
  const r = await cli(['ps', '-a', '--format', 'json'], { socket: d.socket });
  const list = JSON.parse(r.stdout) as { name: string; state: string }[];
  assert.equal(list.find((i) => i.name === 'survivor')?.state, 'created');
  assert.ok((await d.client.listImages()).some((i) => i.repoTags.includes('hello:latest')));
});
