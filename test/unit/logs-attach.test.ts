// Attach without QEMU: detach keys, the CLI's raw-terminal newline fix, the relay against a fake
// console socket, and the HTTP upgrade through the real server and client.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DetachScanner, parseDetachKeys } from '../../src/api/detach-keys.js';
import { crlf } from '../../src/cli/commands/attach.js';
import { ApiError, CunikClient } from '../../src/client/index.js';
import { buildServer, type Backends } from '../../src/daemon/server.js';
import { conflict } from '../../src/errors.js';
import { ConsoleManager } from '../../src/instances/console.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cunik-attach-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

const until = async (what: string, ok: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('detach keys: Docker\'s syntax', () => {
  assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [0x10, 0x11]);
  assert.deepEqual([...parseDetachKeys('ctrl-a,x')], [1, 0x78]);
  assert.deepEqual([...parseDetachKeys('ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')], [0, 27, 28, 29, 30, 31]);
  assert.deepEqual([...parseDetachKeys('CTRL-P')], [0x10]);
  for (const bad of ['', 'ctrl-', 'ctrl-1', 'ab', 'ctrl-p,,ctrl-q', 'é']) assert.throws(() => parseDetachKeys(bad), /invalid detach keys/, bad);
});

test('the detach scanner holds back a possible sequence, passes on a broken one, and drops a complete one', () => {
  const s = () => new DetachScanner(Buffer.from([0x10, 0x11]));
  const str = (b: Buffer) => b.toString('latin1');
  let d = s();
  assert.deepEqual(d.push(Buffer.from('plain text')), { forward: Buffer.from('plain text'), detached: false });
  d = s();
  let r = d.push(Buffer.from('ab\x10'));
  assert.equal(str(r.forward), 'ab');
  r = d.push(Buffer.from('\x11cd'));
  assert.equal(r.detached, true);
  assert.equal(str(r.forward), '');
  d = s();
  r = d.push(Buffer.from('a\x10b'));
  assert.equal(str(r.forward), 'a\x10b');
  assert.equal(r.detached, false);
  d = s();
  r = d.push(Buffer.from('\x10\x10\x11'));
  assert.equal(r.detached, true);
  assert.equal(str(r.forward), '\x10');
  d = s();
  assert.equal(str(d.push(Buffer.from('\x10')).forward), '');
  assert.equal(str(d.push(Buffer.from('z')).forward), '\x10z');
  const one = new DetachScanner(Buffer.from([0x1d]));
  assert.deepEqual(one.push(Buffer.from('x\x1dy')), { forward: Buffer.from('x'), detached: true });
});

test('raw terminal output: lone \\n becomes \\r\\n, also across chunks', () => {
  const f = crlf();
  assert.equal(f(Buffer.from('a\nb\r\n')).toString(), 'a\r\nb\r\n');
  assert.equal(f(Buffer.from('c\r')).toString(), 'c\r');
  assert.equal(f(Buffer.from('\nd\n')).toString(), '\nd\r\n');
});

/** A stand-in for QEMU's console socket: one client at a time, records what it receives. */
async function fakeConsole(path: string): Promise<{ server: Server; conns: Socket[]; received: () => string }> {
  const conns: Socket[] = [];
  let received = '';
  const server = createServer((c) => {
    conns.push(c);
    c.on('data', (d) => (received += d.toString('latin1')));
    c.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { server, conns, received: () => received };
}

/** The daemon's end of a client connection, and the client's end. */
async function connectionPair(): Promise<{ daemonSide: Socket; client: Socket; output: () => string; ended: Promise<void> }> {
  const path = join(dir, `pair-${Math.random().toString(36).slice(2)}.sock`);
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(path, r));
  const daemonSide = new Promise<Socket>((r) => server.once('connection', r));
  const { connect } = await import('node:net');
  const client = connect({ path, allowHalfOpen: true });
  let output = '';
  client.on('data', (d) => (output += d.toString('latin1')));
  const ended = new Promise<void>((r) => client.once('end', () => r()));
  const d = await daemonSide;
  server.close();
  return { daemonSide: d, client, output: () => output, ended };
}

test('the relay: input to the guest, output to every session, detach ends one session only, QEMU leaving ends all', async () => {
  const sock = join(dir, 'a.con');
  const qemu = await fakeConsole(sock);
  const m = new ConsoleManager({ paths: () => ({ consoleLog: join(dir, 'a.log'), consoleSocket: sock }) });
  const keys = Buffer.from([0x10, 0x11]);
  const a = await connectionPair();
  const b = await connectionPair();
  m.attach('a', a.daemonSide, { stdin: true, stdout: true, detachKeys: keys });
  m.attach('a', b.daemonSide, { stdin: true, stdout: true, detachKeys: keys });
  await until('the relay connects', () => qemu.conns.length === 1);
  assert.equal(m.sessions('a'), 2);
  a.client.write('from a\n');
  b.client.write('from b\n');
  await until('input reaches the guest', () => qemu.received().includes('from a\n') && qemu.received().includes('from b\n'));
  qemu.conns[0]!.write('guest says hi\n');
  await until('both sessions see the output', () => a.output() === 'guest says hi\n' && b.output() === 'guest says hi\n');
  a.client.write('bye\x10\x11ignored');
  await a.ended;
  a.client.end();
  await until('a is gone', () => m.sessions('a') === 1);
  assert.ok(qemu.received().endsWith('bye'), JSON.stringify(qemu.received()));
  // A half-close ends the input, not the output.
  b.client.end();
  qemu.conns[0]!.write('still here\n');
  await until('b still gets output', () => b.output().endsWith('still here\n'));
  qemu.conns[0]!.destroy(); // the instance exits
  await b.ended;
  assert.equal(m.sessions('a'), 0);
  b.client.destroy();
  qemu.server.close();
});

test('the relay connects once QEMU creates the socket, and delivers input typed before', async () => {
  const sock = join(dir, 'later.con');
  const m = new ConsoleManager({ paths: () => ({ consoleLog: join(dir, 'later.log'), consoleSocket: sock }) });
  const a = await connectionPair();
  m.attach('later', a.daemonSide, { stdin: true, stdout: true, detachKeys: Buffer.from([0x10, 0x11]) });
  a.client.write('early\n');
  await new Promise((r) => setTimeout(r, 50));
  const qemu = await fakeConsole(sock);
  await until('connected and the early input delivered', () => qemu.received() === 'early\n');
  // A client that went away is noticed at the next output (a half-close looks the same until then).
  a.client.destroy();
  await new Promise((r) => setTimeout(r, 20));
  qemu.conns[0]!.write('anyone?\n');
  await until('the last session gone, the relay lets QEMU go', () => qemu.conns[0]!.readableEnded || qemu.conns[0]!.destroyed);
  assert.equal(m.sessions('later'), 0);
  qemu.server.close();
});

test('GET /attach upgrades to a raw stream (101) through the real server and client; errors keep their status', async () => {
  const sockPath = join(dir, 'api.sock');
  const instances = {
    attach: (ref: string, q: { stdin?: boolean; detachKeys?: string }) => {
      if (ref === 'stopped') throw conflict('cannot attach to stopped instance stopped: start it first');
      return (c: Socket) => {
        c.write(`hello ${ref} stdin=${String(q.stdin)}\n`);
        c.on('data', (d) => c.write(`echo ${d.toString()}`));
        c.on('end', () => c.end('bye\n'));
      };
    },
  };
  const app = await buildServer({ instances } as unknown as Backends);
  await app.listen({ path: sockPath });
  try {
    const client = new CunikClient(sockPath);
    const conn = await client.attach('web', { stdin: false });
    let got = '';
    conn.on('data', (d: Buffer) => (got += d.toString()));
    conn.write('ping\n');
    conn.end();
    await new Promise((r) => conn.once('close', r));
    assert.equal(got, 'hello web stdin=false\necho ping\nbye\n');
    await assert.rejects(client.attach('stopped'), (e: ApiError) => e.status === 409 && e.code === 'CONFLICT' && /start it first/.test(e.message));
    await assert.rejects(client.attach('web', { detachKeys: '' }), (e: ApiError) => e.status === 400);
    // Without the upgrade headers the route says what it needs.
    await assert.rejects(client.http.json('GET', '/v1/instances/web/attach'), (e: ApiError) => e.status === 400 && /upgrade/i.test(e.message));
    // Other routes still answer requests that ask for an upgrade.
    await assert.rejects(client.http.upgrade('GET', '/v1/nothing-here'), (e: ApiError) => e.status === 404);
  } finally {
    await app.close();
  }
});
