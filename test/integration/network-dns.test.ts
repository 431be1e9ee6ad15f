// The bridge networks' DNS responder on real sockets, asked by real resolvers (Debian's dig and
// node's dns.Resolver): on loopback addresses of the host (127.x: nothing to configure, nothing
// leaves the machine), with a small upstream started here standing in for the host's resolver
// (through a resolv.conf of the test's own: the real one is never asked).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import { CunikError } from '../../src/errors.js';
import { DnsService } from '../../src/network/dns/index.js';
import { onExitSignal } from '../helpers/cleanup.js';

// Addresses of this run's own (two runs at once do not collide): the network's gateway, the fake
// host resolver, a second network, a resolver that does not answer.
const base = `127.${100 + (process.pid % 100)}.${(process.pid >> 8) & 255}`;
const GW = `${base}.1`;
const UPSTREAM = `${base}.2`;
const OTHER_GW = `${base}.3`;
const SILENT = `${base}.4`;
const OWN_UPSTREAM = `${base}.5`;
const CLIENT = `${base}.6`;

const tmp = mkdtempSync(join(tmpdir(), 'cunik-dns-'));
const resolvConf = join(tmp, 'resolv.conf');
const execFileP = promisify(execFile);
let dns: DnsService;
let upstream: FakeUpstream;
let silent: UdpSocket;
const logged: string[] = [];

/** The host resolver of this test: answers NAME.upstream.test with 192.0.2.1 (many.upstream.test: 60 records), counts what it was asked. */
class FakeUpstream {
  readonly udp = createSocket('udp4');
  readonly tcp: Server;
  readonly seen: { name: string; id: number; proto: 'udp' | 'tcp' }[] = [];

  constructor(readonly address: string) {
    this.tcp = createServer((c) => {
      let buf: Buffer = Buffer.alloc(0);
      c.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const out = this.answer(buf.subarray(2, 2 + buf.readUInt16BE(0)), 'tcp');
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          const framed = Buffer.alloc(out.length + 2);
          framed.writeUInt16BE(out.length, 0);
          out.copy(framed, 2);
          c.write(framed);
        }
      });
    });
    this.udp.on('message', (msg, r) => this.udp.send(this.answer(msg, 'udp'), r.port, r.address));
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.udp.bind(53, this.address, () => r()));
    await new Promise<void>((r) => this.tcp.listen(53, this.address, () => r()));
  }

  answer(msg: Buffer, proto: 'udp' | 'tcp'): Buffer {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0]!;
    this.seen.push({ name: question.name, id: q.id ?? 0, proto });
    const name = question.name.toLowerCase();
    const known = name.endsWith('.upstream.test');
    const n = name === 'many.upstream.test' ? 60 : 1;
    const answers: Answer[] = known && question.type === 'A' ? Array.from({ length: n }, (_, i) => ({ name: question.name, type: 'A' as const, ttl: 60, data: `192.0.2.${i + 1}` })) : [];
    const full = dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3), questions: [question], answers });
    if (proto === 'udp' && full.length > 512) return dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.TRUNCATED_RESPONSE, questions: [question], answers: [] });
    return full;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.udp.close(() => r()));
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}

async function dig(...args: string[]): Promise<string> {
  const { stdout } = await execFileP('dig', [`@${GW}`, '+time=3', '+tries=1', ...args]);
  return stdout;
}
const short = async (...args: string[]): Promise<string[]> => (await dig('+short', ...args)).split('\n').filter(Boolean).sort();
const status = async (...args: string[]): Promise<string> => /status: (\w+)/.exec(await dig(...args))?.[1] ?? 'none';

/** Sends one datagram to `to`:53 from `from` and resolves with the first answer. */
function udpQuery(to: string, msg: Buffer, from?: string): { socket: UdpSocket; sent: Promise<void>; answer: Promise<Buffer> } {
  const socket = createSocket('udp4');
  socket.unref(); // a failed assertion that leaves it open must not keep the test process alive
  const answer = new Promise<Buffer>((resolve) => socket.once('message', (m) => resolve(m)));
  const sent = new Promise<void>((resolve) => socket.bind(0, from, () => socket.send(msg, 53, to, () => resolve())));
  return { socket, sent, answer };
}

before(async () => {
  const off = onExitSignal(() => rmSync(tmp, { recursive: true, force: true }));
  after(off);
  upstream = new FakeUpstream(UPSTREAM);
  await upstream.listen();
  // A resolver that takes queries and never answers.
  silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(53, SILENT, () => r()));
  writeFileSync(resolvConf, `# the test's host resolver\nnameserver ${UPSTREAM}\noptions edns0\n`);
  dns = new DnsService({ resolvConf, timeoutMs: 500, log: (l) => logged.push(l) });
  await dns.start({ name: 'testnet', gateway: GW, gateway6: '::1', subnets: ['127.0.0.0/8', '::1/128'] });
  dns.register('testnet', { name: 'web', aliases: ['www', 'front'], ipv4: '10.89.0.2', ipv6: 'fd00:89::2' });
  dns.register('testnet', { name: 'db', aliases: ['store'], ipv4: '10.89.0.3' });
});

after(async () => {
  await dns?.stopAll();
  await upstream?.close();
  silent?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('instance names and aliases resolve: A, AAAA, any case, NAME.NETWORK, PTR, over UDP and TCP, IPv4 and IPv6', async () => {
  assert.deepEqual(await short('web'), ['10.89.0.2']);
  assert.deepEqual(await short('WWW.'), ['10.89.0.2']);
  assert.deepEqual(await short('front.testnet'), ['10.89.0.2']);
  assert.deepEqual(await short('web', 'AAAA'), ['fd00:89::2']);
  assert.deepEqual(await short('db', 'AAAA'), [], 'no IPv6 address: no data');
  assert.equal(await status('db', 'AAAA'), 'NOERROR');
  assert.deepEqual(await short('+tcp', 'store'), ['10.89.0.3']);
  assert.deepEqual(await short('-x', '10.89.0.2'), ['web.testnet.']);
  assert.deepEqual(await short('-x', 'fd00:89::2'), ['web.testnet.']);
  const answer = await dig('web');
  assert.match(answer, /flags: qr aa rd ra;/);
  assert.match(answer, /^web\.\s+0\s+IN\s+A\s+10\.89\.0\.2$/m, 'TTL 0');
  const { stdout } = await execFileP('dig', ['@::1', '+time=3', '+tries=1', '+short', 'web']);
  assert.equal(stdout.trim(), '10.89.0.2', 'the IPv6 gateway answers too');
  const r = new Resolver({ timeout: 3000, tries: 1 });
  r.setServers([GW]);
  assert.deepEqual(await r.resolve4('web'), ['10.89.0.2']);
  assert.deepEqual(await r.resolve6('web'), ['fd00:89::2']);
  assert.deepEqual(await r.reverse('10.89.0.3'), ['db.testnet']);
  await assert.rejects(r.resolve4('nobody'), { code: 'ENOTFOUND' });
});

test('a removed instance stops resolving at the next query, a new one resolves at once, live restore replaces the table', async () => {
  dns.register('testnet', { name: 'temp', aliases: ['t-alias'], ipv4: '10.89.0.9' });
  assert.deepEqual(await short('temp'), ['10.89.0.9']);
  assert.deepEqual(await short('t-alias'), ['10.89.0.9']);
  assert.equal(dns.unregister('testnet', 'temp'), true);
  assert.equal(await status('temp'), 'NXDOMAIN');
  assert.equal(await status('t-alias'), 'NXDOMAIN');
  assert.equal(await status('+tcp', 'temp'), 'NXDOMAIN');
  assert.equal(dns.unregister('testnet', 'temp'), false);
  const before = dns.endpoints('testnet');
  dns.replace('testnet', [{ name: 'restored', ipv4: '10.89.0.20' }]);
  assert.deepEqual(await short('restored'), ['10.89.0.20']);
  assert.equal(await status('web'), 'NXDOMAIN');
  dns.replace('testnet', before);
  assert.deepEqual(await short('web'), ['10.89.0.2']);
  assert.throws(() => dns.register('nonet', { name: 'x', ipv4: '10.89.0.5' }), /network nonet has no responder/);
});

test('other names are forwarded to the host\'s resolver (UDP and TCP, a fresh id), TC answers end up complete over TCP', async () => {
  const from = upstream.seen.length;
  assert.deepEqual(await short('far.upstream.test'), ['192.0.2.1']);
  assert.equal(await status('nothing.example'), 'NXDOMAIN', "the upstream's NXDOMAIN comes back");
  assert.deepEqual(await short('+tcp', 'far.upstream.test'), ['192.0.2.1']);
  const seen = upstream.seen.slice(from);
  assert.deepEqual(seen.map((s) => [s.name, s.proto]), [['far.upstream.test', 'udp'], ['nothing.example', 'udp'], ['far.upstream.test', 'tcp']]);
  // 60 records: the upstream truncates over UDP, dig asks the responder again over TCP, which asks the upstream over TCP.
  const tcFirst = await dig('+noedns', '+ignore', 'many.upstream.test');
  assert.match(tcFirst, /flags: qr tc ra;/);
  assert.equal((await short('+noedns', 'many.upstream.test')).length, 60);
  assert.equal(upstream.seen.some((s) => s.name === 'web' || s.name === 'web.testnet'), false, 'the network\'s names never leave');
  const ids = new Set(upstream.seen.map((s) => s.id));
  assert.ok(ids.size > 1, 'ids are chosen per forwarded query');
});

test('an instance with resolvers of its own (run --dns): its other names go there, its peers\' still to the host\'s; the network\'s names never leave', async () => {
  const own = new FakeUpstream(OWN_UPSTREAM);
  await own.listen();
  try {
    dns.register('testnet', { id: 'c1', name: 'client', ipv4: CLIENT, upstreams: [OWN_UPSTREAM] });
    const [hostSeen, ownSeen] = [upstream.seen.length, own.seen.length];
    assert.deepEqual(await short('-b', CLIENT, 'mine.upstream.test'), ['192.0.2.1']);
    assert.deepEqual(await short('-b', CLIENT, '+tcp', 'mine-tcp.upstream.test'), ['192.0.2.1']);
    assert.deepEqual(await short('-b', CLIENT, 'web'), ['10.89.0.2'], 'the network\'s names still answer');
    assert.deepEqual(own.seen.slice(ownSeen).map((x) => [x.name, x.proto]), [['mine.upstream.test', 'udp'], ['mine-tcp.upstream.test', 'tcp']]);
    assert.equal(upstream.seen.length, hostSeen, 'the host\'s resolver was not asked for the instance');
    // Another address of the network asks the host's resolver as before.
    assert.deepEqual(await short('theirs.upstream.test'), ['192.0.2.1']);
    assert.equal(upstream.seen.at(-1)?.name, 'theirs.upstream.test');
    assert.equal(own.seen.length, ownSeen + 2);
    // Gone from the network: its queries (were it still to send some) go to the host's again.
    dns.unregister('testnet', 'c1');
    assert.deepEqual(await short('-b', CLIENT, 'after.upstream.test'), ['192.0.2.1']);
    assert.equal(upstream.seen.at(-1)?.name, 'after.upstream.test');
    assert.equal(own.seen.length, ownSeen + 2);
    assert.throws(() => dns.register('testnet', { name: 'bad', ipv4: '10.89.0.7', upstreams: ['dns.example'] }), /not the address of a resolver: dns\.example/);
  } finally {
    dns.unregister('testnet', 'c1');
    await own.close();
  }
});

test('an upstream that does not answer (or answers nothing), a resolv.conf naming the gateway itself: SERVFAIL, no loop', async () => {
  writeFileSync(resolvConf, `nameserver ${SILENT}\n`);
  const t0 = Date.now();
  assert.equal(await status('far.upstream.test'), 'SERVFAIL');
  assert.ok(Date.now() - t0 < 2500, 'after the 500 ms timeout');
  // Forwarding to the gateway would be to the responder itself: it is left out, so there is no
  // server to ask and the SERVFAIL comes at once instead of after a timeout.
  writeFileSync(resolvConf, `nameserver ${GW}\n`);
  const looped = await dig('far.upstream.test');
  assert.match(looped, /status: SERVFAIL/);
  assert.ok(Number(/Query time: (\d+) msec/.exec(looped)?.[1]) < 250, looped);
  // The next server is tried after one that fails.
  writeFileSync(resolvConf, `nameserver ${SILENT}\nnameserver ${UPSTREAM}\n`);
  assert.deepEqual(await short('far.upstream.test'), ['192.0.2.1']);
  writeFileSync(resolvConf, `nameserver ${UPSTREAM}\n`);
});

test('malformed packets are dropped without harm, over UDP and TCP; the responder answers on', async () => {
  const junk = [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(12, 0xff), Buffer.from('0001010000010000000000000c0c00010001', 'hex')];
  const sockets: UdpSocket[] = [];
  for (const j of junk) {
    const s = createSocket('udp4');
    sockets.push(s);
    await new Promise<void>((r) => s.send(j, 53, GW, () => r()));
  }
  // Over TCP: a zero length, a loop, then a length with half a message and a close.
  await new Promise<void>((resolve) => {
    const c = connect(53, GW, () => {
      c.write(Buffer.from([0, 0, 0, 18, ...Buffer.from('0001010000010000000000000c0c00010001', 'hex'), 0x01, 0x00, 0xab]));
      c.end();
    });
    c.on('close', () => resolve());
    c.on('error', () => undefined);
  });
  const q = dnsPacket.encode({ type: 'query', id: 77, questions: [{ name: 'web', type: 'A' }] });
  const { socket, answer } = udpQuery(GW, q);
  const reply = dnsPacket.decode(await answer);
  assert.equal(reply.id, 77);
  socket.close();
  for (const s of sockets) s.close();
  assert.deepEqual(await short('+tcp', 'web'), ['10.89.0.2']);
  // Two TCP queries on one connection (pipelined) both get their answer.
  const two = await new Promise<number[]>((resolve) => {
    const ids: number[] = [];
    let buf: Buffer = Buffer.alloc(0);
    const c = connect(53, GW, () => {
      for (const id of [1, 2]) {
        const m = dnsPacket.encode({ type: 'query', id, questions: [{ name: id === 1 ? 'web' : 'db', type: 'A' }] });
        c.write(Buffer.concat([Buffer.from([m.length >> 8, m.length & 255]), m]));
      }
    });
    c.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        ids.push(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))).id ?? -1);
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (ids.length === 2) {
        c.destroy();
        resolve(ids.sort());
      }
    });
  });
  assert.deepEqual(two, [1, 2]);
});

test('a network answers only queries from its own subnets; a port already taken fails the start in one line; stop frees the port', async () => {
  await dns.start({ name: 'other', gateway: OTHER_GW, subnets: [`${OTHER_GW}/32`] });
  dns.register('other', { name: 'lonely', ipv4: '10.90.0.2' });
  assert.deepEqual(dns.listening().map((l) => l.network).sort(), ['other', 'testnet']);
  // From 127.0.0.1 (outside 127.x.y.3/32): dropped. From the gateway's own address (inside): answered.
  const q = dnsPacket.encode({ type: 'query', id: 5, questions: [{ name: 'lonely', type: 'A' }] });
  const outside = udpQuery(OTHER_GW, q, '127.0.0.1');
  let outsideAnswered = false;
  void outside.answer.then(() => (outsideAnswered = true));
  await outside.sent; // on loopback it is in the responder's queue now, before the next one
  const inside = udpQuery(OTHER_GW, q, OTHER_GW);
  assert.deepEqual((dnsPacket.decode(await inside.answer).answers ?? []).map((a) => (a as { data: string }).data), ['10.90.0.2']);
  // The inside query was taken from the queue after the outside one, whose answer (had there been
  // one) would have been sent first: one turn of the event loop delivers it.
  await new Promise((r) => setImmediate(r));
  assert.equal(outsideAnswered, false);
  outside.socket.close();
  inside.socket.close();
  // Names are per network: testnet's names are not other's.
  const cross = udpQuery(OTHER_GW, dnsPacket.encode({ type: 'query', id: 6, questions: [{ name: 'web', type: 'A' }] }), OTHER_GW);
  assert.equal((dnsPacket.decode(await cross.answer) as { rcode?: string }).rcode, 'NXDOMAIN');
  cross.socket.close();

  // An internal network forwards nothing: SERVFAIL at once, the upstream never asked.
  await dns.stop('other');
  await dns.start({ name: 'other', gateway: OTHER_GW, subnet: `${OTHER_GW}/32`, internal: true });
  const asked = upstream.seen.length;
  const internal = udpQuery(OTHER_GW, dnsPacket.encode({ type: 'query', id: 8, questions: [{ name: 'far.upstream.test', type: 'A' }] }), OTHER_GW);
  assert.equal((dnsPacket.decode(await internal.answer) as { rcode?: string }).rcode, 'SERVFAIL');
  internal.socket.close();
  assert.equal(upstream.seen.length, asked);

  const second = new DnsService({ resolvConf });
  await assert.rejects(second.start({ name: 'clash', gateway: OTHER_GW }), (err: unknown) => {
    assert.ok(err instanceof CunikError);
    assert.equal(err.code, 'CONFLICT');
    assert.match(err.message, new RegExp(`^cannot answer DNS for network clash on ${OTHER_GW.replace(/\./g, '\\.')}:53/udp: the port is already in use`));
    return true;
  });
  assert.deepEqual(second.listening(), []);
  await dns.stop('other');
  assert.deepEqual(dns.listening().map((l) => l.network), ['testnet']);
  await second.start({ name: 'clash', gateway: OTHER_GW });
  await second.stopAll();
  const unbound = new DnsService({ resolvConf });
  await assert.rejects(unbound.start({ name: 'nowhere', gateway: '192.0.2.77' }), /192\.0\.2\.77 is not an address of this host/);
  assert.deepEqual(unbound.listening(), []);
});
