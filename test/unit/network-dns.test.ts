// The bridge networks' DNS responder, the pure parts: which answer a query gets (the network's
// names, forwarded names, hostile packets), what a forwarded answer becomes, resolv.conf, and the
// zone's names. The sockets are tested in test/integration/network-dns.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { decide, relayAnswer, TTL, type Decision } from '../../src/network/dns/answer.js';
import { parseResolvConf } from '../../src/network/dns/upstream.js';
import { addressOfReverse, isDnsName, normalizeName, reverseName, Zone } from '../../src/network/dns/zone.js';

const RD = dnsPacket.RECURSION_DESIRED;

function zone(): Zone {
  const z = new Zone('mynet', ['10.89.0.0/24', 'fd00:89::/64']);
  z.set({ name: 'web', aliases: ['www', 'Front.End'], ipv4: '10.89.0.2', ipv6: 'fd00:89::2' });
  z.set({ name: 'db', aliases: ['shared'], ipv4: '10.89.0.3' });
  z.set({ name: 'cache', aliases: ['shared'], ipv4: '10.89.0.4' });
  return z;
}

function query(name: string, type: string, extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id: 4242, flags: RD, questions: [{ name, type: type as 'A', class: 'IN' }], ...extra });
}

/** dns-packet decodes the rcode too; its typings leave it out. */
type Decoded = DecodedPacket & { rcode: string };
const dec = (b: Buffer): Decoded => dnsPacket.decode(b) as Decoded;

function replyOf(d: Decision): Decoded {
  assert.equal(d.kind, 'reply', `expected a reply, got ${JSON.stringify(d)}`);
  return dec((d as { packet: Buffer }).packet);
}

const data = (p: DecodedPacket): unknown[] => (p.answers ?? []).map((a) => (a as { data: unknown }).data);

test('the network\'s names answer A and AAAA, case-insensitively, with and without the network suffix, authoritatively, with TTL 0', () => {
  const z = zone();
  const cases: [string, string, unknown[]][] = [
    ['web', 'A', ['10.89.0.2']],
    ['WEB', 'A', ['10.89.0.2']],
    ['web.mynet', 'A', ['10.89.0.2']],
    ['Web.MyNet', 'A', ['10.89.0.2']],
    ['www', 'A', ['10.89.0.2']],
    ['front.end', 'A', ['10.89.0.2']],
    ['front.end.mynet', 'A', ['10.89.0.2']],
    ['web', 'AAAA', ['fd00:89::2']],
    ['db', 'AAAA', []], // no IPv6: "no data", not forwarded
    ['db', 'MX', []],
    ['db', 'TXT', []],
    ['web', 'ANY', ['10.89.0.2', 'fd00:89::2']],
    ['shared', 'A', ['10.89.0.3', '10.89.0.4']], // an alias several instances share: all of them
  ];
  for (const [name, type, want] of cases) {
    const p = replyOf(decide(query(name, type), z, 'udp'));
    assert.equal(p.id, 4242);
    assert.equal(p.type, 'response');
    assert.equal(p.rcode, 'NOERROR', `${name} ${type}`);
    assert.equal(p.flag_aa, true);
    assert.equal(p.flag_rd, true);
    assert.equal(p.flag_ra, true);
    assert.deepEqual(p.questions, [{ name, type, class: 'IN' }], 'the question comes back as asked (case kept, for 0x20 clients)');
    assert.deepEqual(data(p), want, `${name} ${type}`);
    for (const a of p.answers ?? []) {
      assert.equal((a as { ttl: number }).ttl, TTL);
      assert.equal(a.name, name);
    }
  }
  assert.equal(TTL, 0);
});

test('a name no instance holds: one label is NXDOMAIN here, any other name is forwarded with a SERVFAIL ready', () => {
  const z = zone();
  const nx = replyOf(decide(query('ghost', 'A'), z, 'udp'));
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.equal(nx.flag_aa, true);
  assert.deepEqual(nx.authorities, [], 'no SOA: not cached negatively');
  for (const name of ['example.com', 'ghost.mynet', 'web.othernet', 'localhost.localdomain', '.']) {
    const d = decide(query(name, 'A'), z, 'udp');
    assert.equal(d.kind, 'forward', name);
    if (d.kind !== 'forward') continue;
    assert.equal(d.id, 4242);
    assert.equal(d.limit, 512);
    const sf = dec(d.servfail);
    assert.equal(sf.rcode, 'SERVFAIL');
    assert.equal(sf.id, 4242);
    assert.equal(sf.flag_aa, false);
    assert.equal(sf.questions?.[0]?.name, name === '.' ? '.' : name);
  }
  // Another class (CHAOS version.bind) is not the network's, even for an instance's name.
  assert.equal(decide(dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'web', type: 'TXT', class: 'CH' }] }), z, 'udp').kind, 'forward');
  z.delete('web');
  assert.equal(replyOf(decide(query('web', 'A'), z, 'udp')).rcode, 'NXDOMAIN', 'removed: gone at once');
  assert.equal(replyOf(decide(query('www', 'A'), z, 'udp')).rcode, 'NXDOMAIN', 'its aliases too');
  assert.equal(decide(query('web.mynet', 'A'), z, 'udp').kind, 'forward');
});

test('PTR: the network\'s addresses answer name.network; a free address of the subnet is NXDOMAIN; others are forwarded', () => {
  const z = zone();
  const ptr = (name: string): unknown[] => data(replyOf(decide(query(name, 'PTR'), z, 'udp')));
  assert.deepEqual(ptr('2.0.89.10.in-addr.arpa'), ['web.mynet']);
  assert.deepEqual(ptr('3.0.89.10.IN-ADDR.ARPA'), ['db.mynet']);
  assert.deepEqual(ptr(reverseName('fd00:89::2')), ['web.mynet']);
  assert.equal(reverseName('fd00:89::2'), '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.8.0.0.0.0.d.f.ip6.arpa');
  assert.equal(replyOf(decide(query('99.0.89.10.in-addr.arpa', 'PTR'), z, 'udp')).rcode, 'NXDOMAIN');
  assert.equal(replyOf(decide(query(reverseName('fd00:89::99'), 'PTR'), z, 'udp')).rcode, 'NXDOMAIN');
  assert.equal(decide(query('8.8.8.8.in-addr.arpa', 'PTR'), z, 'udp').kind, 'forward');
  assert.equal(decide(query('0.89.10.in-addr.arpa', 'PTR'), z, 'udp').kind, 'forward', 'not a whole address');
  assert.deepEqual(data(replyOf(decide(query('2.0.89.10.in-addr.arpa', 'A'), z, 'udp'))), [], 'A of a reverse name: no data');
});

test('hostile and malformed packets are dropped or get a header-only error, never an exception', () => {
  const z = zone();
  const header = (qd: number, flags = RD): Buffer => {
    const b = Buffer.alloc(12);
    b.writeUInt16BE(7, 0);
    b.writeUInt16BE(flags, 2);
    b.writeUInt16BE(qd, 4);
    return b;
  };
  const q = (nameBytes: number[], type = 1): Buffer => Buffer.concat([header(1), Buffer.from(nameBytes), Buffer.from([type >> 8, type & 255, 0, 1])]);
  const label = (s: string): number[] => [s.length, ...Buffer.from(s)];
  const cases: [string, Buffer, 'drop' | 'FORMERR' | 'NOTIMP'][] = [
    ['empty', Buffer.alloc(0), 'drop'],
    ['shorter than a header', Buffer.alloc(11), 'drop'],
    ['a response', query('web', 'A', { type: 'response' }), 'drop'],
    ['zero questions', header(0), 'FORMERR'],
    ['two questions', dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'web', type: 'A' }, { name: 'db', type: 'A' }] }), 'FORMERR'],
    ['65535 questions in a short packet', Buffer.concat([header(65535), Buffer.from(label('web')), Buffer.from([0, 0, 1, 0, 1])]), 'drop'],
    ['a name pointing at itself', q([0xc0, 12]), 'drop'],
    ['a loop of two pointers', q([...label('a'), 0xc0, 14, 0xc0, 12]), 'drop'],
    ['a pointer forward', q([0xc0, 40]), 'drop'],
    ['a pointer past the end', q([0xc0, 0xff]), 'drop'],
    ['a label running past the end', Buffer.concat([header(1), Buffer.from([63, 1, 2, 3])]), 'drop'],
    ['a name longer than 255 bytes', q([...Array(5).fill(label('x'.repeat(63))).flat(), 0]), 'drop'],
    ['no type and class', Buffer.concat([header(1), Buffer.from([...label('web'), 0])]), 'drop'],
    ['a reserved label type (0x40)', q([0x40, 0]), 'drop'],
    ['opcode STATUS', query('web', 'A', { flags: RD | (2 << 11) }), 'NOTIMP'],
    ['opcode UPDATE', query('web', 'A', { flags: 5 << 11 }), 'NOTIMP'],
  ];
  for (const [what, msg, want] of cases) {
    const d = decide(msg, z, 'udp');
    if (want === 'drop') {
      assert.equal(d.kind, 'drop', what);
      continue;
    }
    assert.equal(d.kind, 'reply', what);
    const packet = (d as { packet: Buffer }).packet;
    assert.equal(packet.length, 12, `${what}: header only, no larger than the query`);
    const p = dec(packet);
    assert.equal(p.rcode, want, what);
    assert.equal(p.id, msg.readUInt16BE(0), what);
  }
  // An unknown type: no data for the network's names, NXDOMAIN for a free label, the type echoed.
  const unknown = replyOf(decide(q([...label('web'), 0], 65280), z, 'udp'));
  assert.equal(unknown.rcode, 'NOERROR');
  assert.equal(unknown.questions?.[0]?.type, 'UNKNOWN_65280');
  assert.equal(replyOf(decide(q([...label('nope'), 0], 65280), z, 'udp')).rcode, 'NXDOMAIN');
  // A compression pointer back into the question is fine (the name is decoded, not trusted).
  const viaPointer = decide(Buffer.concat([header(1), Buffer.from([...label('web'), 0, 0, 1, 0, 1])]), z, 'udp');
  assert.deepEqual(data(replyOf(viaPointer)), ['10.89.0.2']);
});

test('random bytes and mutated queries never throw and never get a UDP answer over 1232 bytes', () => {
  const z = zone();
  const base = query('web.mynet', 'A', { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0, options: [] } as unknown as Answer] });
  for (let i = 0; i < 1500; i++) {
    let msg: Buffer;
    if (i % 2 === 0) msg = randomBytes(i % 80);
    else {
      msg = Buffer.from(base);
      for (let k = 0; k < 1 + (i % 4); k++) msg[(i * 7 + k * 13) % msg.length] = (i * 31 + k) & 255;
    }
    const d = decide(msg, z, 'udp');
    if (d.kind === 'reply') assert.ok(d.packet.length <= 1232);
  }
});

test('a UDP answer over 512 bytes (1232 with EDNS) is sent truncated with TC, in full over TCP', () => {
  const z = new Zone('big', ['10.90.0.0/16']);
  for (let i = 0; i < 50; i++) z.set({ name: `i${i}`, aliases: ['pool'], ipv4: `10.90.0.${i + 2}` });
  const plain = replyOf(decide(query('pool', 'A'), z, 'udp'));
  assert.equal(plain.flag_tc, true);
  assert.deepEqual(plain.answers, []);
  assert.equal(plain.questions?.[0]?.name, 'pool');
  const opt = { type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0, options: [] } as unknown as Answer;
  const edns = decide(query('pool', 'A', { additionals: [opt] }), z, 'udp');
  assert.equal(edns.kind, 'reply');
  const ep = replyOf(edns);
  assert.equal(ep.flag_tc, false, '50 answers fit in 1232 bytes');
  assert.equal(ep.answers?.length, 50);
  assert.ok((edns as { packet: Buffer }).packet.length <= 1232);
  const opts = (ep.additionals ?? []).filter((a) => a.type === 'OPT');
  assert.equal(opts.length, 1, 'EDNS is answered with EDNS');
  assert.equal((opts[0] as { udpPayloadSize: number }).udpPayloadSize, 1232);
  for (let i = 50; i < 120; i++) z.set({ name: `i${i}`, aliases: ['pool'], ipv4: `10.90.1.${i}` });
  assert.equal(replyOf(decide(query('pool', 'A', { additionals: [opt] }), z, 'udp')).flag_tc, true);
  const tcp = replyOf(decide(query('pool', 'A'), z, 'tcp'));
  assert.equal(tcp.flag_tc, false);
  assert.equal(tcp.answers?.length, 120);
  const forwarded = decide(query('example.org', 'A', { additionals: [{ ...opt, udpPayloadSize: 100 } as Answer] }), z, 'udp');
  assert.equal(forwarded.kind === 'forward' && forwarded.limit, 512, 'a client asking for less than 512 still gets 512');
});

test('a forwarded answer is taken only if it answers the query sent; the client gets its own id back, cut with TC when too long', () => {
  const question = { name: 'example.com', type: 'A' as const, class: 'IN' as const };
  const answer = (id: number, extra: Partial<Packet> = {}): Buffer =>
    dnsPacket.encode({ type: 'response', id, flags: RD | dnsPacket.RECURSION_AVAILABLE, questions: [question], answers: [{ name: 'example.com', type: 'A', ttl: 60, data: '192.0.2.1' }], ...extra });
  const ok = relayAnswer(answer(999), 999, question, 4242, 512);
  assert.ok(ok);
  const p = dec(ok);
  assert.equal(p.id, 4242);
  assert.deepEqual(data(p), ['192.0.2.1']);
  assert.equal(relayAnswer(answer(998), 999, question, 4242, 512), undefined, 'another id');
  assert.equal(relayAnswer(answer(999, { type: 'query' }), 999, question, 4242, 512), undefined, 'not a response');
  assert.equal(relayAnswer(answer(999, { questions: [{ ...question, name: 'evil.example' }] }), 999, question, 4242, 512), undefined, 'another question');
  assert.equal(relayAnswer(answer(999, { questions: [{ ...question, type: 'AAAA' }] }), 999, question, 4242, 512), undefined, 'another type');
  assert.equal(relayAnswer(answer(999).subarray(0, 20), 999, question, 4242, 512), undefined, 'malformed');
  assert.ok(relayAnswer(answer(999, { questions: [{ ...question, name: 'EXAMPLE.com' }] }), 999, question, 4242, 512), 'case may differ');
  const many = dnsPacket.encode({ type: 'response', id: 5, questions: [question], answers: Array.from({ length: 40 }, (_, i) => ({ name: 'example.com', type: 'A' as const, ttl: 60, data: `192.0.2.${i}` })) });
  assert.ok(many.length > 512);
  const cut = relayAnswer(many, 5, question, 6, 512);
  assert.ok(cut && cut.length <= 512);
  const cp = dec(cut);
  assert.equal(cp.flag_tc, true);
  assert.equal(cp.id, 6);
  assert.deepEqual(cp.answers, []);
  assert.equal(relayAnswer(many, 5, question, 6, 65535)?.length, many.length, 'over TCP in full');
});

test('resolv.conf: the first three nameserver lines, loopback stubs included; glibc\'s 127.0.0.1 when there is none', () => {
  const cases: [string, string[]][] = [
    ['nameserver 192.0.2.53\n', ['192.0.2.53']],
    ['# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.org\n', ['127.0.0.53']],
    ['nameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver fe80::1%eth0\nnameserver 192.0.2.4\n', ['192.0.2.1', '2001:db8::1', 'fe80::1%eth0']],
    ['  nameserver\t192.0.2.9  # trailing\n', ['192.0.2.9']],
    ['nameserver not-an-address\nnameserver 192.0.2.7\n', ['192.0.2.7']],
    [';nameserver 192.0.2.8\n#nameserver 192.0.2.9\n', ['127.0.0.1']],
    ['', ['127.0.0.1']],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseResolvConf(text), want, JSON.stringify(text));
});

test('zone names: normalized, checked, and reverse names both ways', () => {
  assert.equal(normalizeName('Web.'), 'web');
  assert.equal(normalizeName('WEB'), 'web');
  assert.ok(isDnsName('web-1.a_b'));
  for (const bad of ['', 'a..b', '-web', 'web-', 'x'.repeat(64), `${'a.'.repeat(127)}a`, 'we b', 'wéb']) assert.equal(isDnsName(bad), false, bad);
  assert.deepEqual(addressOfReverse('5.0.88.10.in-addr.arpa.'), { address: '10.88.0.5', family: 'ipv4' });
  assert.equal(addressOfReverse('256.0.88.10.in-addr.arpa'), undefined);
  assert.equal(addressOfReverse('05.0.88.10.in-addr.arpa'), undefined);
  assert.deepEqual(addressOfReverse(reverseName('fd00::1')), { address: 'fd00:0000:0000:0000:0000:0000:0000:0001', family: 'ipv6' });
  assert.equal(reverseName('10.88.0.5'), '5.0.88.10.in-addr.arpa');
  const z = new Zone('n', ['10.1.0.0/24']);
  // A name that cannot be a DNS name (an instance name may have 128 characters) is not answered; the rest are.
  z.set({ name: 'x'.repeat(100), aliases: ['ok.', 'Bad Alias'], ipv4: '10.1.0.2' });
  assert.deepEqual(z.lookup('ok'), { kind: 'addresses', addresses: { v4: ['10.1.0.2'], v6: [] } });
  assert.equal(z.lookup('bad alias'), undefined);
  assert.equal(z.lookup('1.0.1.10.in-addr.arpa')?.kind, 'nxdomain', 'no PTR for a name that is not a DNS name');
  assert.throws(() => z.set({ name: 'a', ipv4: '10.1.0' }), /not an IPv4 address/);
  assert.throws(() => z.set({ name: 'a', ipv4: '10.1.0.3', ipv6: '::ffff:1.2.3.4' }), /not an IPv6 address/);
  assert.throws(() => new Zone('n', ['10.1.0.0/33']), /not a subnet/);
  // Keyed by id when there is one: a rename replaces, unregister takes the id or the name.
  z.set({ id: 'abc123', name: 'old', ipv4: '10.1.0.5' });
  z.set({ id: 'abc123', name: 'new', ipv4: '10.1.0.5' });
  assert.equal(z.lookup('old'), undefined);
  assert.equal(z.lookup('new')?.kind, 'addresses');
  assert.equal(z.delete('abc123'), true);
  assert.equal(z.lookup('new'), undefined);
  z.set({ id: 'def456', name: 'Named', ipv4: '10.1.0.6' });
  assert.equal(z.delete('named'), true);
  assert.equal(z.delete('named'), false);
  z.replace([{ name: 'b', ipv4: '10.1.0.9' }]);
  assert.equal(z.lookup('ok'), undefined);
  assert.equal(z.lookup('b.n')?.kind, 'addresses');
  assert.ok(z.contains('10.1.0.200'));
  assert.equal(z.contains('10.1.1.1'), false);
  assert.equal(z.contains('not an address'), false);
});
