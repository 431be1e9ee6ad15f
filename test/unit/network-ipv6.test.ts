// IPv6 on bridge networks: the subnet arithmetic (cidr6.ts), a create request's IPv6 side and its
// refusals, the NAT66 rule, the IPAM's IPv6 addresses on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bigToIp6, canonical6, contains6, ip6ToBig, nth6, overlaps6, parseSubnet6, randomUla64 } from '../../src/network/bridge/cidr6.js';
import { Ipam } from '../../src/network/bridge/ipam.js';
import { rulesetText } from '../../src/network/bridge/nft.js';
import { checkStaticIp6, networkSpec, parseIp6, type NetworkRecord } from '../../src/network/bridge/spec.js';

test('IPv6 text and numbers both ways, canonical (RFC 5952)', () => {
  for (const [text, want] of [['fd00:cafe:1::2', 'fd00:cafe:1::2'], ['FD00:0:0:0:0:0:0:1', 'fd00::1'], ['::', '::'], ['fd00:0:0:1:0:0:0:1', 'fd00:0:0:1::1'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7']]) {
    assert.equal(canonical6(text!), want, text);
  }
  assert.equal(ip6ToBig('::1'), 1n);
  assert.equal(bigToIp6((0xfdn << 120n) + 2n), 'fd00::2');
});

test('IPv6 subnets: parse, contain, overlap, the n-th address; refusals in one line', () => {
  const s = parseSubnet6('fd00:cafe:1::/64');
  assert.equal(nth6(s, 1n), 'fd00:cafe:1::1');
  assert.ok(contains6(s, 'fd00:cafe:1::ffff'));
  assert.ok(!contains6(s, 'fd00:cafe:2::1'));
  assert.ok(overlaps6(s, parseSubnet6('fd00:cafe:1:0:8000::/65')));
  assert.ok(!overlaps6(s, parseSubnet6('fd00:cafe:2::/64')));
  for (const [text, why] of [['fd00::1/64', /has host bits set \(did you mean fd00::\/64\?\)/], ['fd00::/32', /prefix length of fd00::\/32 must be 48-120/], ['10.0.0.0/24', /is not an IPv6 subnet/], ['fd00::', /is not an IPv6 subnet/]] as const) {
    assert.throws(() => parseSubnet6(text), why, text);
  }
  const ula = randomUla64();
  assert.match(ula, /^fd[0-9a-f]{2}:/);
  assert.equal(parseSubnet6(ula).prefix, 64);
});

const net = (over: Partial<NetworkRecord> = {}): NetworkRecord => ({
  id: 'a'.repeat(64), name: 'front', driver: 'bridge', subnet: '10.213.5.0/24', gateway: '10.213.5.1', internal: false, labels: {}, bridge: 'cunikbr-aaaaaaa', createdAt: '2026-01-01T00:00:00.000Z', subnet6: 'fd00:cafe:1::/64', gateway6: 'fd00:cafe:1::1', ...over,
});

test('a create request\'s IPv6 side: given or random, gateway ::1 or given; refusals', () => {
  const others = [net()];
  const given = networkSpec({ name: 'b', subnet: '10.214.0.0/24', ipv6: true, subnet6: 'fd00:cafe:2::/64', gateway6: 'FD00:CAFE:2::FE' }, others, [], { id: 'b'.repeat(64) });
  assert.deepEqual([given.subnet6, given.gateway6], ['fd00:cafe:2::/64', 'fd00:cafe:2::fe']);
  const random = networkSpec({ name: 'c', subnet: '10.214.1.0/24', ipv6: true }, others, [], { id: 'c'.repeat(64) });
  assert.match(random.subnet6!, /^fd[0-9a-f]{2}:.*::\/64$/);
  assert.equal(random.gateway6, random.subnet6!.replace('::/64', '::1'));
  assert.equal(networkSpec({ name: 'd', subnet: '10.214.2.0/24' }, others, [], { id: 'd'.repeat(64) }).subnet6, undefined, 'no --ipv6: IPv4 only');
  for (const [req, why] of [
    [{ name: 'x', subnet: '10.214.3.0/24', ipv6: true, subnet6: 'fd00:cafe:1:0:8000::/65' }, /^subnet fd00:cafe:1:0:8000::\/65 overlaps fd00:cafe:1::\/64 of network front$/],
    [{ name: 'x', subnet: '10.214.3.0/24', subnet6: 'fd00:beef::/64' }, /^an IPv6 subnet needs --ipv6$/],
    [{ name: 'x', subnet: '10.214.3.0/24', ipv6: true, subnet6: 'fd00:beef::/64', gateway6: 'fd00:dead::1' }, /^gateway fd00:dead::1 is not a host address of subnet fd00:beef::\/64$/],
    [{ name: 'x', subnet: '10.214.3.0/24', ipv6: true, subnet6: 'fd00:beef::/64', gateway6: 'fd00:beef::' }, /is not a host address/],
  ] as const) {
    assert.throws(() => networkSpec(req, others, [], { id: 'e'.repeat(64) }), (e: Error) => why.test(e.message), JSON.stringify(req));
  }
});

test('NAT66 for a non-internal IPv6 network, none for an internal one', () => {
  const text = rulesetText([net(), net({ bridge: 'cunikbr-bbbbbbb', subnet: '10.213.6.0/24', subnet6: 'fd00:cafe:9::/64', internal: true })]);
  assert.match(text, /^    ip6 saddr fd00:cafe:1::\/64 oifname != "cunikbr-aaaaaaa" masquerade$/m);
  assert.doesNotMatch(text, /fd00:cafe:9::/);
});

test('the IPAM hands out IPv6 addresses from ::2, never the gateway, one file each, listed beside IPv4 ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-ipam6-'));
  try {
    const ipam = new Ipam(dir);
    const n = net({ gateway6: 'fd00:cafe:1::2' });
    assert.equal(ipam.allocate6(n, 'i1'), 'fd00:cafe:1::1');
    assert.equal(ipam.allocate6(n, 'i2'), 'fd00:cafe:1::3', 'the gateway is skipped');
    ipam.allocate(n, 'i1');
    assert.deepEqual(readdirSync(join(dir, n.id)).sort(), ['10.213.5.2', 'fd00:cafe:1::1', 'fd00:cafe:1::3']);
    assert.deepEqual(ipam.list().map((a) => `${a.ip}=${a.instanceId}`).sort(), ['10.213.5.2=i1', 'fd00:cafe:1::1=i1', 'fd00:cafe:1::3=i2']);
    assert.deepEqual(ipam.releaseInstance('i1').map((a) => a.ip).sort(), ['10.213.5.2', 'fd00:cafe:1::1']);
    assert.throws(() => ipam.allocate6(net({ subnet6: undefined, gateway6: undefined }), 'i3'), /has no IPv6 subnet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--ip6: canonical; a host address of the IPv6 subnet, not its gateway; refusals in one line', () => {
  assert.equal(parseIp6('FD00:CAFE:1:0:0:0:0:99'), 'fd00:cafe:1::99');
  assert.doesNotThrow(() => checkStaticIp6(net(), 'fd00:cafe:1::99'));
  for (const [ip, n, why] of [
    ['10.213.5.9', net(), /--ip6: "10\.213\.5\.9" is not an IPv6 address$/],
    ['fd00::1%eth0', net(), /is not an IPv6 address$/],
    ['fd00:cafe:2::9', net(), /--ip6 fd00:cafe:2::9 is not a host address of network front \(fd00:cafe:1::\/64\)$/],
    ['fd00:cafe:1::', net(), /is not a host address of network front/],
    ['fd00:cafe:1::1', net(), /--ip6 fd00:cafe:1::1 is the gateway of network front$/],
    ['fd00:cafe:1::9', net({ subnet6: undefined, gateway6: undefined }), /--ip6 needs a network with IPv6: network front has none \(network create --ipv6\)$/],
  ] as const) {
    assert.throws(() => checkStaticIp6(n, ip), why, ip);
  }
});

test('the IPAM takes a wanted IPv6 address once: again for its holder, CONFLICT for another', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-ipam6w-'));
  try {
    const ipam = new Ipam(dir);
    const n = net();
    assert.equal(ipam.allocate6(n, 'i1', 'fd00:cafe:1::99'), 'fd00:cafe:1::99');
    assert.equal(ipam.allocate6(n, 'i1', 'fd00:cafe:1::99'), 'fd00:cafe:1::99');
    assert.throws(() => ipam.allocate6(n, 'i2', 'fd00:cafe:1::99'), { message: 'address fd00:cafe:1::99 of network front is already in use' });
    assert.equal(ipam.allocate6(n, 'i2'), 'fd00:cafe:1::2', 'the next free one skips the gateway');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
