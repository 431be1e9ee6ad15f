// The daemon log: JSON lines (pino) to stderr or --log-file, at --log-level; one entry per request
// (method, route, status, duration), one per instance state change; the daemon's one-line
// messages are the entries' msg.
import assert from 'node:assert/strict';
import { createReadStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { helloKernel, startDaemon, waitFor } from '../helpers/daemon.js';

type Entry = Record<string, unknown> & { level: string; msg: string; time: string };

function entries(text: string): Entry[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Entry;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

test('--log-file: requests, state changes and the start-up lines, each a JSON object', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-test-'));
  const file = join(dir, 'cunikd.log');
  const d = await startDaemon({ dir, args: ['--accel', 'tcg', '--log-file', file] });
  try {
    await d.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
    const { id } = await d.client.createInstance({ image: 'hello', args: ['exit=3'], name: 'logged' });
    const { exitCode } = await d.client.waitInstance(id, 'next-exit');
    await d.client.startInstance(id);
    assert.equal(await exitCode, 3);
    await assert.rejects(d.client.inspectInstance('nosuch'));
    // Each request is logged as its response closes, which may be just after the client has it.
    const log = await waitFor('the entries of the last requests', () => {
      const all = entries(readFileSync(file, 'utf8'));
      return all.some((e) => e['action'] === 'die') && all.some((e) => e['route'] === '/v1/instances/:id/wait') && all.some((e) => e['status'] === 404) ? all : undefined;
    });
    assert.equal(d.stderr(), '', 'nothing on stderr with --log-file');
    for (const e of log) {
      assert.equal(typeof e.time, 'string');
      assert.equal(e['pid'], d.proc.pid);
    }
    assert.ok(log.some((e) => e.level === 'info' && /^listening on /.test(e.msg)), 'the start-up line');
    const requests = log.filter((e) => e.msg === 'request');
    const created = requests.find((e) => e['method'] === 'POST' && e['route'] === '/v1/instances');
    assert.ok(created, 'the create request');
    assert.equal(created['status'], 201);
    assert.equal(typeof created['durationMs'], 'number');
    const notFound = requests.find((e) => e['route'] === '/v1/instances/:id' && e['status'] === 404);
    assert.ok(notFound, 'the failed inspect, with its status');
    // The wait: a streamed (hijacked) response, logged when it ends, after the instance's exit.
    const wait = requests.find((e) => e['route'] === '/v1/instances/:id/wait')!;
    assert.equal(wait['status'], 200);
    const changes = log.filter((e) => e['instance'] === id).map((e) => e['action']);
    assert.deepEqual(changes, ['create', 'start', 'die']);
    const die = log.find((e) => e['action'] === 'die')!;
    assert.equal(die['exitCode'], 3);
    assert.equal(die['name'], 'logged');
  } finally {
    await d.stop();
  }
});

test('stderr by default; --log-level warn keeps only warnings and errors', async () => {
  const d = await startDaemon();
  try {
    // The socket answers a moment before the line is written (the group and mode are set first).
    await waitFor('the start-up line on stderr', () => entries(d.stderr()).some((e) => /^listening on /.test(e.msg)) || undefined);
  } finally {
    await d.stop();
  }
  const quiet = await startDaemon({ args: ['--accel', 'tcg', '--log-level', 'warn'] });
  try {
    await quiet.client.listInstances(true);
    await assert.rejects(quiet.client.inspectInstance('nosuch'));
    assert.deepEqual(entries(quiet.stderr()).filter((e) => e.level !== 'warn' && e.level !== 'error' && e.level !== 'fatal'), []);
  } finally {
    await quiet.stop();
  }
});

test('a bad --log-level is refused in one line', async () => {
  const d = await startDaemon({ args: ['--log-level', 'chatty'] }).catch((e: Error) => e);
  assert.ok(d instanceof Error);
  assert.match(d.message, /--log-level.*chatty.*Allowed choices are fatal, error, warn, info, debug, trace, silent/);
});
