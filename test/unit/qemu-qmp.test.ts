// Protocol tests of the QMP client against a fake QMP server speaking QEMU's wire format.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { QmpClient, QmpError, type QmpEvent } from '../../src/vmm/qemu/qmp.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-qmp-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sockPath = (): string => join(dir, `q${n++}.sock`);

const GREETING = { QMP: { version: { qemu: { micro: 0, minor: 2, major: 7 }, package: '' }, capabilities: ['oob'] } };

interface Fake {
  server: Server;
  received: Array<Record<string, unknown>>;
  clients: Socket[];
}

type Handler = (msg: Record<string, unknown>, sock: Socket) => void;

function send(sock: Socket, msg: unknown): void {
  sock.write(JSON.stringify(msg) + '\r\n'); // QEMU ends lines with CRLF
}

/** A fake QEMU monitor: greets, requires qmp_capabilities first, then hands commands to `handler`. */
async function fakeQmp(path: string, handler: Handler, opts: { greet?: boolean; before?: unknown[] } = {}): Promise<Fake> {
  const fake: Fake = { server: createServer(), received: [], clients: [] };
  fake.server.on('connection', (sock) => {
    fake.clients.push(sock);
    let negotiated = false;
    let buf = '';
    for (const msg of opts.before ?? []) send(sock, msg);
    if (opts.greet !== false) send(sock, GREETING);
    sock.on('data', (chunk) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        fake.received.push(msg);
        const id = msg['id'];
        if (!negotiated) {
          if (msg['execute'] === 'qmp_capabilities') {
            negotiated = true;
            send(sock, { return: {}, ...(id !== undefined ? { id } : {}) });
          } else {
            send(sock, { error: { class: 'CommandNotFound', desc: 'Expecting capabilities negotiation with \'qmp_capabilities\'' }, id });
          }
          continue;
        }
        handler(msg, sock);
      }
    });
    sock.on('error', () => undefined);
  });
  fake.server.listen(path);
  await once(fake.server, 'listening');
  return fake;
}

function stop(fake: Fake): Promise<void> {
  for (const c of fake.clients) c.destroy();
  return new Promise((resolve) => fake.server.close(() => resolve()));
}

const standard: Handler = (msg, sock) => {
  const id = msg['id'];
  switch (msg['execute']) {
    case 'query-status':
      send(sock, { return: { status: 'running', singlestep: false, running: true }, id });
      break;
    case 'echo':
      send(sock, { return: msg['arguments'], id });
      break;
    case 'stop':
      send(sock, { timestamp: { seconds: 1, microseconds: 2 }, event: 'STOP' });
      send(sock, { return: {}, id });
      break;
    case 'quit':
      send(sock, { return: {}, id });
      send(sock, { timestamp: { seconds: 1, microseconds: 3 }, event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } });
      sock.end();
      break;
    case 'slow':
      setTimeout(() => send(sock, { return: 'slow', id }), 30);
      break;
    default:
      send(sock, { error: { class: 'CommandNotFound', desc: `The command ${String(msg['execute'])} has not been found` }, id });
  }
};

test('qmp: greeting, capabilities, execute returns the result', async () => {
  const path = sockPath();
  const fake = await fakeQmp(path, standard);
  const qmp = await QmpClient.connect(path);
  assert.deepEqual(qmp.greeting, GREETING);
  assert.deepEqual(await qmp.execute('query-status'), { status: 'running', singlestep: false, running: true });
  assert.deepEqual(await qmp.execute('echo', { a: 1, b: 'x' }), { a: 1, b: 'x' });
  assert.equal(fake.received[0]?.['execute'], 'qmp_capabilities');
  assert.deepEqual(fake.received[2], { execute: 'echo', id: 2, arguments: { a: 1, b: 'x' } });
  qmp.close();
  await stop(fake);
});

test('qmp: an event QEMU sends before its greeting (a client connected while it starts) is skipped', async () => {
  const path = sockPath();
  const fake = await fakeQmp(path, standard, { before: [{ timestamp: { seconds: 1, microseconds: 0 }, event: 'RESUME' }] });
  const qmp = await QmpClient.connect(path);
  assert.deepEqual(qmp.greeting, GREETING);
  assert.deepEqual(await qmp.execute('query-status'), { status: 'running', singlestep: false, running: true });
  qmp.close();
  await stop(fake);
});

test('qmp: responses are matched by id, out of order', async () => {
  const path = sockPath();
  const fake = await fakeQmp(path, standard);
  const qmp = await QmpClient.connect(path);
  const order: string[] = [];
  const slow = qmp.execute('slow').then((v) => order.push(String(v)));
  const fast = qmp.execute('echo', { v: 'fast' }).then(() => order.push('fast'));
  await Promise.all([slow, fast]);
  assert.deepEqual(order, ['fast', 'slow']);
  qmp.close();
  await stop(fake);
});

test('qmp: an error response rejects with QEMU\'s desc', async () => {
  const path = sockPath();
  const fake = await fakeQmp(path, standard);
  const qmp = await QmpClient.connect(path);
  await assert.rejects(qmp.execute('nope'), (e: unknown) => {
    assert.ok(e instanceof QmpError);
    assert.ok(e instanceof CunikError);
    assert.equal(e.qmpClass, 'CommandNotFound');
    assert.equal(e.message, 'The command nope has not been found');
    return true;
  });
  // the connection stays usable
  assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'running');
  qmp.close();
  await stop(fake);
});

test('qmp: events are emitted; close rejects pending commands and emits close', async () => {
  const path = sockPath();
  const fake = await fakeQmp(path, standard);
  const qmp = await QmpClient.connect(path);
  const events: QmpEvent[] = [];
  qmp.on('event', (e: QmpEvent) => events.push(e));
  await qmp.execute('stop');
  assert.equal(events[0]?.event, 'STOP');
  assert.deepEqual(events[0]?.timestamp, { seconds: 1, microseconds: 2 });
  const closed = once(qmp, 'close');
  await qmp.execute('quit');
  await closed;
  assert.equal(events[1]?.event, 'SHUTDOWN');
  assert.deepEqual(events[1]?.data, { guest: false, reason: 'host-qmp-quit' });
  assert.equal(qmp.isClosed, true);
  await assert.rejects(qmp.execute('query-status'), /QMP connection closed/);
  await stop(fake);
});

test('qmp: a pending command rejects when the server goes away', async () => {
  const path = sockPath();
  const fake = await fakeQmp(path, (_msg, sock) => sock.destroy());
  const qmp = await QmpClient.connect(path);
  await assert.rejects(qmp.execute('query-status'), /QMP connection closed/);
  await stop(fake);
});

test('qmp: connect retries until the socket appears', async () => {
  const path = sockPath();
  let fake: Fake | undefined;
  const later = setTimeout(() => {
    void fakeQmp(path, standard).then((f) => (fake = f));
  }, 60);
  const t0 = Date.now();
  const qmp = await QmpClient.connect(path, { timeoutMs: 2000 });
  assert.ok(Date.now() - t0 >= 50);
  assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'running');
  qmp.close();
  clearTimeout(later);
  await stop(fake!);
});

test('qmp: connect gives up at the deadline (no socket / no greeting)', async () => {
  const t0 = Date.now();
  await assert.rejects(QmpClient.connect(join(dir, 'missing.sock'), { timeoutMs: 150 }), /timed out after 150 ms/);
  const took = Date.now() - t0;
  assert.ok(took >= 140 && took < 1000, `took ${took} ms`);

  const path = sockPath();
  const silent = await fakeQmp(path, standard, { greet: false });
  await assert.rejects(QmpClient.connect(path, { timeoutMs: 150 }), /timed out after 150 ms/);
  await stop(silent);
});

test('qmp: connect can be aborted', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('vm exited')), 30);
  await assert.rejects(QmpClient.connect(join(dir, 'never.sock'), { timeoutMs: 5000, signal: ac.signal }), /vm exited/);
});

test('qmp: lines split across chunks and several messages in one chunk', async () => {
  const path = sockPath();
  const server = createServer((sock) => {
    sock.on('error', () => undefined);
    const g = JSON.stringify(GREETING) + '\r\n';
    sock.write(g.slice(0, 10));
    setTimeout(() => sock.write(g.slice(10)), 10);
    sock.once('data', () => {
      // capabilities answer, an event and a command answer in a single write
      sock.write('{"return": {}}\r\n{"event": "RESUME", "timestamp": {"seconds": 5, "microseconds": 6}}\r\n');
      sock.on('data', (d) => {
        const msg = JSON.parse(d.toString()) as { id: number };
        const r = JSON.stringify({ return: 42, id: msg.id });
        sock.write(r.slice(0, 5));
        setTimeout(() => sock.write(r.slice(5) + '\n'), 10);
      });
    });
  });
  server.listen(path);
  await once(server, 'listening');
  const qmp = await QmpClient.connect(path);
  const ev = once(qmp, 'event');
  assert.equal(((await ev)[0] as QmpEvent).event, 'RESUME');
  assert.equal(await qmp.execute('x'), 42);
  qmp.close();
  await new Promise((r) => server.close(r));
});
