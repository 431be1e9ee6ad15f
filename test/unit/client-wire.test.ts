// The CLI's HTTP/1.1 client against Node's own HTTP server on a unix socket.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { ApiError, ConnectError, HttpClient, readAll } from '../../src/client/http.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-wire-'));
const socketPath = join(dir, 's.sock');
let server: Server;
let connections = 0;

before(async () => {
  server = createServer(async (req, res) => {
    const body = (await readAll(req)).toString();
    if (req.url === '/json') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, body, te: req.headers['transfer-encoding'] ?? null }));
    if (req.url === '/empty') return res.writeHead(204).end();
    if (req.url === '/missing') return res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NOT_FOUND","message":"no such thing: x"}');
    if (req.url?.startsWith('/stream')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      for (const part of ['a', 'bc', 'x'.repeat(70_000), 'end']) {
        res.write(part);
        await new Promise((r) => setTimeout(r, 5));
      }
      return res.end();
    }
    res.writeHead(500).end();
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(socketPath, r));
});
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = new HttpClient(socketPath);

test('JSON bodies go out with a length and come back parsed', async () => {
  const got = await client.json<{ method: string; body: string; te: string | null }>('POST', '/json', { json: { a: 1 } });
  assert.deepEqual(got, { method: 'POST', body: '{"a":1}', te: null });
});

test('streamed request bodies are sent chunked', async () => {
  const got = await client.json<{ body: string; te: string }>('POST', '/json', { body: Readable.from([Buffer.from('one,'), Buffer.from('two')]) });
  assert.equal(got.body, 'one,two');
  assert.equal(got.te, 'chunked');
});

test('large streamed bodies arrive whole (socket back-pressure)', async () => {
  const big = Buffer.alloc(8 * 1024 * 1024, 7);
  const parts = Array.from({ length: 128 }, (_, i) => big.subarray(i * 65536, (i + 1) * 65536));
  const got = await client.json<{ body: string }>('POST', '/json', { body: Readable.from(parts) });
  assert.equal(got.body.length, big.length);
});

test('chunked responses stream in order, including large chunks', async () => {
  const res = await client.open('GET', '/stream', { query: { follow: true } });
  assert.equal(res.statusCode, 200);
  assert.equal((await readAll(res)).toString(), `abc${'x'.repeat(70_000)}end`);
});

test('empty responses end at once', async () => {
  const res = await client.open('POST', '/empty');
  assert.equal(res.statusCode, 204);
  assert.equal((await readAll(res)).length, 0);
});

test('error statuses become ApiError with the daemon code and message', async () => {
  await assert.rejects(client.json('GET', '/missing'), (err: ApiError) => err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND' && err.message === 'no such thing: x');
});

test('no daemon on the socket is a ConnectError', async () => {
  await assert.rejects(new HttpClient(join(dir, 'none.sock')).json('GET', '/json'), ConnectError);
});

test('a client keeps its connection alive across requests, whatever the response framing', async () => {
  const c = new HttpClient(socketPath);
  const before = connections;
  const warnings: string[] = [];
  const onWarning = (w: Error): number => warnings.push(w.name);
  process.on('warning', onWarning);
  for (let i = 0; i < 3; i++) {
    assert.equal((await c.json<{ method: string }>('POST', '/json', { json: { i } })).method, 'POST');
    assert.equal((await readAll(await c.open('GET', '/stream'))).length, 70_006); // chunked
    assert.equal((await c.open('POST', '/empty')).statusCode, 204); // no body
    await assert.rejects(c.json('GET', '/missing'), ApiError);
  }
  assert.equal(connections - before, 1, 'one connection for 12 requests');
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  assert.deepEqual(warnings, [], 'no listener is left behind on the reused connection');
  // Two at once need two connections; both are then kept.
  await Promise.all([c.json('POST', '/json', { json: 1 }), c.json('POST', '/json', { json: 2 })]);
  assert.equal(connections - before, 2);
  await c.json('POST', '/json', { json: 3 });
  assert.equal(connections - before, 2);
  c.close();
});

test('an idle connection the server closed is not reused', async () => {
  const c = new HttpClient(socketPath);
  await c.json('POST', '/json', { json: 1 });
  const before = connections;
  server.closeIdleConnections();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await c.json<{ body: string }>('POST', '/json', { json: 2 })).body, '2');
  assert.equal(connections - before, 1);
  c.close();
});

test('kept-alive connections never keep the process alive', async () => {
  const url = new URL('../../src/client/http.js', import.meta.url).href;
  const src = `const { HttpClient } = await import(${JSON.stringify(url)});
    const c = new HttpClient(${JSON.stringify(socketPath)});
    await c.json('POST', '/json', { json: 1 });
    console.log('done');`;
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0);
  assert.equal(out.trim(), 'done');
  assert.ok(Date.now() - t0 < 4000, `the process took ${Date.now() - t0} ms to exit`); // the server keeps connections 5 s
});
