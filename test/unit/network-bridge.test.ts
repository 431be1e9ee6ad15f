// Bridge networks, the pure parts and the IPAM on a real file system: subnets, a create request's
// checks, the nftables table's text, and allocations that never hand out an address twice (50
// workers allocating at once).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { hostRange, intToIp, netmask, overlaps, parseSubnet } from '../../src/network/bridge/cidr.js';
import { Ipam } from '../../src/network/bridge/ipam.js';
import type { BridgeHost } from '../../src/network/bridge/host.js';
import { BridgeNetworks, macFor, tapName } from '../../src/network/bridge/networks.js';
import { foreignScript, replaceScript, rulesetText, type PublishedPort } from '../../src/network/bridge/nft.js';
import { foreignChainsOf } from '../../src/network/bridge/host.js';
import { checkMac, checkStaticIp, chooseSubnet, networkSpec, type NetworkRecord } from '../../src/network/bridge/spec.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-ipam-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const net = (over: Partial<NetworkRecord> = {}): NetworkRecord => ({
  id: 'a'.repeat(64), name: 'front', driver: 'bridge', subnet: '10.213.5.0/24', gateway: '10.213.5.1', internal: false, labels: {}, bridge: 'cunikbr-aaaaaaa', createdAt: '2026-01-01T00:00:00.000Z', ...over,
});

test('subnets: parse, overlap, host range, netmask', () => {
  assert.deepEqual(parseSubnet('10.213.0.0/24'), { base: 0x0ad50000, prefix: 24 });
  for (const [text, why] of [['10.213.0.1/24', /host bits set \(did you mean 10\.213\.0\.0\/24\?\)/], ['10.0.0.0/31', /prefix length/], ['300.1.1.0/24', /not an IPv4 subnet/], ['fd00::/64', /not an IPv4 subnet/], ['10.0.0.0', /not an IPv4 subnet/]] as const) {
    assert.throws(() => parseSubnet(text), why, text);
  }
  assert.equal(overlaps(parseSubnet('10.0.0.0/8'), parseSubnet('10.213.0.0/24')), true);
  assert.equal(overlaps(parseSubnet('10.213.0.0/24'), parseSubnet('10.213.1.0/24')), false);
  assert.deepEqual(hostRange(parseSubnet('10.213.0.0/24')), { first: 0x0ad50001, last: 0x0ad500fe });
  assert.deepEqual(hostRange(parseSubnet('10.213.0.0/24'), parseSubnet('10.213.0.128/25')), { first: 0x0ad50080, last: 0x0ad500fe });
  assert.equal(netmask(24), '255.255.255.0');
  assert.equal(netmask(20), '255.255.240.0');
  assert.equal(intToIp(0xc0000201), '192.0.2.1');
});

test('the pool: the first /24 that overlaps no other network and no host route', () => {
  const pool = parseSubnet('10.213.0.0/16');
  assert.equal(intToIp(chooseSubnet(pool, [])!.base), '10.213.0.0');
  assert.equal(intToIp(chooseSubnet(pool, [parseSubnet('10.213.0.0/23'), parseSubnet('10.213.2.0/24')])!.base), '10.213.3.0');
  assert.equal(chooseSubnet(pool, [parseSubnet('10.0.0.0/8')]), undefined);
  const spec = networkSpec({ name: 'front' }, [net({ name: 'other', subnet: '10.213.0.0/24' })], ['default', '10.213.1.0/24', '10.213.2.7'], { id: 'b'.repeat(64) });
  assert.equal(spec.subnet, '10.213.3.0/24');
  assert.equal(spec.gateway, '10.213.3.1');
  assert.equal(spec.bridge, 'cunikbr-bbbbbbb');
  assert.throws(() => networkSpec({ name: 'x' }, [], ['10.213.0.0/16'], { id: 'c'.repeat(64) }), /no free subnet left in the pool 10\.213\.0\.0\/16: give one with --subnet/);
  assert.equal(networkSpec({ name: 'bridge' }, [], [], { id: 'd'.repeat(64), defaultNetwork: true }).bridge, 'cunik0');
});

test('a create request: every refusal is one line', () => {
  const others = [net()];
  const cases: [Parameters<typeof networkSpec>[0], RegExp][] = [
    [{ name: 'back', subnet: '10.213.5.128/25' }, /^subnet 10\.213\.5\.128\/25 overlaps 10\.213\.5\.0\/24 of network front$/],
    [{ name: 'back', subnet: '10.0.0.0/8' }, /overlaps 10\.213\.5\.0\/24 of network front/],
    [{ name: 'back', subnet: '10.214.0.0/24', gateway: '10.215.0.1' }, /^gateway 10\.215\.0\.1 is not a host address of subnet 10\.214\.0\.0\/24$/],
    [{ name: 'back', subnet: '10.214.0.0/24', gateway: '10.214.0.255' }, /is not a host address/],
    [{ name: 'back', subnet: '10.214.0.0/24', gateway: 'nope' }, /not an IPv4 address/],
    [{ name: 'back', subnet: '10.214.0.0/24', ipRange: '10.214.1.0/25' }, /^ip range 10\.214\.1\.0\/25 is not inside subnet 10\.214\.0\.0\/24$/],
    [{ name: 'back', gateway: '10.213.0.1' }, /^every ip-range or gateway must have a corresponding subnet: give --subnet with --gateway$/],
    [{ name: 'back', ipRange: '10.213.0.128/25' }, /^every ip-range or gateway must have a corresponding subnet: give --subnet with --ip-range$/],
    [{ name: 'front', subnet: '10.214.0.0/24' }, /^network front already exists$/],
    [{ name: 'user' }, /reserved/],
    [{ name: 'bridge' }, /reserved/],
    [{ name: '-x' }, /invalid network name/],
  ];
  for (const [req, why] of cases) {
    assert.throws(() => networkSpec(req, others, [], { id: 'e'.repeat(64) }), (err: Error) => why.test(err.message) && !err.message.includes('\n'), JSON.stringify(req));
  }
  const ok = networkSpec({ name: 'back', subnet: '10.214.0.0/24', gateway: '10.214.0.254', ipRange: '10.214.0.128/25', internal: true, labels: { a: 'b' } }, others, [], { id: 'f'.repeat(64) });
  assert.deepEqual({ ...ok, id: undefined }, { id: undefined, name: 'back', driver: 'bridge', subnet: '10.214.0.0/24', gateway: '10.214.0.254', ipRange: '10.214.0.128/25', internal: true, labels: { a: 'b' }, bridge: 'cunikbr-fffffff' });
});

test('--ip: inside the subnet, not the gateway, network or broadcast address', () => {
  assert.doesNotThrow(() => checkStaticIp(net(), '10.213.5.7'));
  for (const [ip, why] of [['10.213.6.7', /is not a host address of network front \(10\.213\.5\.0\/24\)/], ['10.213.5.0', /not a host address/], ['10.213.5.255', /not a host address/], ['10.213.5.1', /is the gateway of network front/], ['x', /not an IPv4 address/]] as const) {
    assert.throws(() => checkStaticIp(net(), ip), why, ip);
  }
});

test('the nftables table: isolation, egress with masquerade, --internal without it', () => {
  const nets = [net({ bridge: 'cunikbr-bbbbbbb', subnet: '10.213.1.0/24', internal: true }), net({ bridge: 'cunik0', subnet: '10.213.0.0/24' })];
  assert.equal(rulesetText(nets), [
    'table inet cunik {',
    '  chain guard {',
    '    type filter hook prerouting priority raw; policy accept;',
    '    iifname "cunik0" ip saddr 127.0.0.0/8 drop',
    '    iifname "cunik0" ip daddr 127.0.0.0/8 drop',
    '    iifname "cunikbr-bbbbbbb" ip saddr 127.0.0.0/8 drop',
    '    iifname "cunikbr-bbbbbbb" ip daddr 127.0.0.0/8 drop',
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    iifname "cunik0" oifname { "cunikbr-bbbbbbb" } drop',
    '    iifname "cunik0" accept',
    '    oifname "cunik0" ct state established,related accept',
    '    oifname "cunik0" drop',
    '    iifname "cunikbr-bbbbbbb" oifname { "cunik0" } drop',
    '    iifname "cunikbr-bbbbbbb" oifname != "cunikbr-bbbbbbb" drop',
    '    oifname "cunikbr-bbbbbbb" iifname != "cunikbr-bbbbbbb" drop',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    '    ip saddr 10.213.0.0/24 oifname != "cunik0" masquerade',
    '  }',
    '}',
    '',
  ].join('\n'));
  assert.equal(rulesetText([]), 'table inet cunik {\n  chain guard {\n    type filter hook prerouting priority raw; policy accept;\n  }\n  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n  }\n  chain output {\n    type nat hook output priority -100; policy accept;\n  }\n  chain forward {\n    type filter hook forward priority filter; policy accept;\n  }\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n  }\n}\n');
  assert.match(replaceScript(nets), /^table inet cunik\ndelete table inet cunik\ntable inet cunik \{\n/);
  assert.throws(() => rulesetText([net({ bridge: 'x"; flush ruleset; "' })]), /not an interface name/);
});

test('published ports: DNAT in prerouting and output, forward lets them in, hairpin masquerade; only for known bridges', () => {
  const nets = [net({ bridge: 'cunik0', subnet: '10.213.0.0/24' })];
  const ports: PublishedPort[] = [
    { bridge: 'cunik0', proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353, guestIp: '10.213.0.2', guestPort: 53 },
    { bridge: 'cunik0', proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, guestIp: '10.213.0.2', guestPort: 80 },
    { bridge: 'cunikbr-gone', proto: 'tcp', hostIp: '0.0.0.0', hostPort: 9090, guestIp: '10.213.9.2', guestPort: 80 },
  ];
  const text = rulesetText(nets, ports);
  const dnats = [
    '    meta nfproto ipv4 ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.213.0.2:53',
    '    meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.213.0.2:80',
  ].join('\n');
  assert.ok(text.includes(`  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n${dnats}\n  }`), text);
  assert.ok(text.includes(`  chain output {\n    type nat hook output priority -100; policy accept;\n${dnats}\n  }`), text);
  assert.ok(text.includes('    oifname "cunik0" ct state established,related accept\n    oifname "cunik0" ct status dnat accept\n    oifname "cunik0" drop\n'), text);
  assert.ok(text.includes('    oifname "cunik0" ip saddr 127.0.0.0/8 masquerade\n    oifname "cunik0" ip saddr 10.213.0.0/24 ct status dnat masquerade\n'), text);
  assert.ok(!text.includes('9090'), 'a port of a bridge that is gone is not written');
  assert.throws(() => rulesetText(nets, [{ ...ports[0]!, guestIp: '1.2.3.4; flush ruleset' }]), /not an IPv4 address/);
  assert.throws(() => rulesetText(nets, [{ ...ports[0]!, hostPort: 0 }]), /not a port/);
});

test('other tools\' chains: DOCKER-USER, else a dropping FORWARD, get one accept per direction; only Cunik\'s own rules are replaced', () => {
  const listing = (chains: object[], rules: object[]): string => JSON.stringify({ nftables: [{ metainfo: {} }, { table: { family: 'ip', name: 'filter' } }, ...chains.map((c) => ({ chain: c })), ...rules.map((r) => ({ rule: r }))] });
  const docker = listing([{ name: 'FORWARD', policy: 'drop' }, { name: 'DOCKER-USER' }, { name: 'DOCKER' }], [
    { chain: 'DOCKER-USER', handle: 7, comment: 'cunik' },
    { chain: 'DOCKER-USER', handle: 8 },
    { chain: 'FORWARD', handle: 3 },
  ]);
  const chains = foreignChainsOf(docker);
  assert.deepEqual(chains, [{ family: 'ip', table: 'filter', chain: 'DOCKER-USER', target: true, cunik: [7] }]);
  const nets = [net({ bridge: 'cunik0', subnet: '10.213.0.0/24' }), net({ bridge: 'cunikbr-iiiiiii', subnet: '10.213.1.0/24', internal: true })];
  assert.equal(foreignScript(chains, nets), [
    'delete rule ip filter DOCKER-USER handle 7',
    'insert rule ip filter DOCKER-USER oifname "cunik0" accept comment "cunik"',
    'insert rule ip filter DOCKER-USER iifname "cunik0" accept comment "cunik"',
    '',
  ].join('\n'));
  // No DOCKER-USER: a FORWARD chain whose policy drops is where the accepts go; one that accepts is left alone.
  assert.deepEqual(foreignChainsOf(listing([{ name: 'FORWARD', policy: 'drop' }], [])), [{ family: 'ip', table: 'filter', chain: 'FORWARD', target: true, cunik: [] }]);
  assert.deepEqual(foreignChainsOf(listing([{ name: 'FORWARD', policy: 'accept' }], [])), []);
  // Cunik's old accepts in a chain that is no longer the target are still removed.
  assert.equal(foreignScript(foreignChainsOf(listing([{ name: 'FORWARD', policy: 'accept' }], [{ chain: 'FORWARD', handle: 12, comment: 'cunik' }])), nets), 'delete rule ip filter FORWARD handle 12\n');
  assert.equal(foreignScript([], nets), '');
});

test('taps are named after the instance, within IFNAMSIZ; MACs come from the address', () => {
  assert.equal(tapName('0123456789abcdef'.repeat(4)), 'cunikt012345678');
  assert.equal(tapName('0123456789abcdef'.repeat(4)).length, 15);
  // A second NIC's tap: 8 digits and a letter that is never a hex digit, so never another's first tap.
  assert.equal(tapName('0123456789abcdef'.repeat(4), 1), 'cunikt01234567g');
  assert.equal(tapName('0123456789abcdef'.repeat(4), 7), 'cunikt01234567m');
  assert.ok(!/[0-9a-f]$/.test(tapName('f'.repeat(64), 1)));
  assert.equal(checkMac('02:AB:00:00:00:01'), '02:ab:00:00:00:01');
  assert.throws(() => checkMac('03:00:00:00:00:01'), /--mac-address 03:00:00:00:00:01 is not a unicast address/);
  assert.throws(() => checkMac('02:00:00:00:00'), /is not a MAC address/);
  assert.throws(() => checkMac('00:00:00:00:00:00'), /not a unicast address/);
  assert.equal(macFor('10.213.0.2'), '02:43:0a:d5:00:02');
  assert.equal(macFor('192.0.2.255'), '02:43:c0:00:02:ff');
});

test('IPAM: one file per address; --ip; none left; release', () => {
  const ipam = new Ipam(join(tmp, 'one'));
  const small = net({ subnet: '10.213.5.0/29', gateway: '10.213.5.1' }); // hosts .1-.6, .1 the gateway
  assert.equal(ipam.allocate(small, 'i1'), '10.213.5.2');
  assert.equal(ipam.allocate(small, 'i2', '10.213.5.5'), '10.213.5.5');
  assert.throws(() => ipam.allocate(small, 'i3', '10.213.5.5'), { message: 'address 10.213.5.5 of network front is already in use' });
  assert.equal(ipam.allocate(small, 'i3'), '10.213.5.3');
  assert.equal(ipam.allocate(small, 'i4'), '10.213.5.4');
  assert.equal(ipam.allocate(small, 'i5'), '10.213.5.6');
  assert.throws(() => ipam.allocate(small, 'i6'), /no free address left in network front \(10\.213\.5\.0\/29\)/);
  assert.equal(readFileSync(join(tmp, 'one', small.id, '10.213.5.3'), 'utf8'), 'i3');
  assert.deepEqual(ipam.releaseInstance('i3').map((a) => a.ip), ['10.213.5.3']);
  assert.equal(ipam.allocate(small, 'i6'), '10.213.5.3');
  assert.equal(ipam.list().length, 5);
  // A file a crash left empty is an allocation nobody holds: the reconcile sweeps it.
  writeFileSync(join(tmp, 'one', small.id, '10.213.5.9'), '');
  assert.deepEqual(ipam.list().find((a) => a.ip === '10.213.5.9'), { network: small.id, ip: '10.213.5.9', instanceId: '' });
  const ranged = net({ id: 'b'.repeat(64), ipRange: '10.213.5.128/25' });
  assert.equal(ipam.allocate(ranged, 'r1'), '10.213.5.128');
});

test('IPAM: 50 allocations at once (50 threads) get 50 different addresses', { timeout: 60_000 }, async () => {
  const dir = join(tmp, 'parallel');
  const ipamUrl = new URL('../../src/network/bridge/ipam.js', import.meta.url).href;
  const record = net();
  const start = new SharedArrayBuffer(4);
  const workers = Array.from({ length: 50 }, (_, i) => new Worker(`
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.ipamUrl).then(({ Ipam }) => {
      const flag = new Int32Array(workerData.start);
      parentPort.postMessage('ready');
      Atomics.wait(flag, 0, 0);
      parentPort.postMessage(new Ipam(workerData.dir).allocate(workerData.record, 'inst' + workerData.i));
    });`, { eval: true, workerData: { ipamUrl, dir, record, i, start } }));
  const results = workers.map((w) => new Promise<string>((resolve, reject) => {
    w.on('message', (m: string) => m !== 'ready' && resolve(m));
    w.on('error', reject);
  }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  const ips = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  assert.equal(new Set(ips).size, 50);
  assert.equal(readdirSync(join(dir, record.id)).length, 50);
  assert.ok(!ips.includes('10.213.5.1'), 'never the gateway');
});

test('an exit of an instance that was never on a bridge network costs the host nothing; one that was loses its tap and address', async () => {
  const calls: string[] = [];
  const host: BridgeHost = {
    routes: async () => [],
    ensureBridge: async (name) => void calls.push(`bridge ${name}`),
    addTap: async (name) => void calls.push(`tap ${name}`),
    deleteLink: async (name) => void calls.push(`delete ${name}`),
    links: async () => [],
    applyNft: async () => void calls.push('nft'),
    deleteTable: async () => void calls.push('nft delete'),
    enableForwarding: async () => false,
    forwarding: () => true,
    foreignChains: async () => [],
    enableForwarding6: async () => false,
  };
  const dir = mkdtempSync(join(tmpdir(), 'cunik-bridge-exit-'));
  try {
    const nets = new BridgeNetworks({ dir, host });
    await nets.create({ name: 'app', subnet: '10.213.7.0/24' });
    calls.length = 0;
    await nets.detach('never-attached');
    assert.deepEqual(calls, []);
    const a = await nets.attach('inst1', 'app');
    await nets.detach('inst1');
    // (an attach first removes what an earlier run of the instance may have left)
    assert.deepEqual(calls, [`delete ${a.tap}`, `tap ${a.tap}`, `delete ${a.tap}`]);
    assert.deepEqual(nets.allocations(nets.get('app').id), []);
    // A daemon restarted after the attach still finds the address, and so removes the tap.
    const b = await nets.attach('inst2', 'app');
    const restarted = new BridgeNetworks({ dir, host });
    restarted.load();
    calls.length = 0;
    await restarted.detach('inst2');
    assert.deepEqual(calls, [`delete ${b.tap}`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a network service (the DNS responder) is up with its bridge and down before it goes; one that cannot start fails the create and leaves nothing', async () => {
  const calls: string[] = [];
  let refuse = false;
  const host: BridgeHost = {
    routes: async () => [],
    ensureBridge: async (name) => void calls.push(`bridge ${name}`),
    addTap: async (name) => void calls.push(`tap ${name}`),
    deleteLink: async (name) => void calls.push(`delete ${name}`),
    links: async () => [],
    applyNft: async () => void calls.push('nft'),
    deleteTable: async () => void calls.push('nft delete'),
    enableForwarding: async () => false,
    forwarding: () => true,
    foreignChains: async () => [],
    enableForwarding6: async () => false,
  };
  const services = {
    up: async (n: NetworkRecord) => {
      calls.push(`up ${n.name}`);
      if (refuse) throw new Error(`cannot answer DNS for network ${n.name}: the port is already in use`);
    },
    down: async (n: NetworkRecord) => void calls.push(`down ${n.name}`),
  };
  const dir = mkdtempSync(join(tmpdir(), 'cunik-bridge-svc-'));
  try {
    const nets = new BridgeNetworks({ dir, host, services });
    const app = await nets.create({ name: 'app', subnet: '10.213.8.0/24' });
    assert.deepEqual(calls, [`bridge ${app.bridge}`, 'up app', 'nft']);
    calls.length = 0;
    refuse = true;
    await assert.rejects(nets.create({ name: 'taken', subnet: '10.213.9.0/24' }), /^Error: cannot answer DNS for network taken: the port is already in use$/);
    assert.deepEqual(nets.list().map((n) => n.name), ['app']);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.json')).length, 1);
    // Its bridge was made, then taken down again after the service.
    const made = calls[0]!.slice('bridge '.length);
    assert.deepEqual(calls.filter((c) => !c.startsWith('nft')), [`bridge ${made}`, 'up taken', 'down taken', `delete ${made}`]);
    // At daemon start a service that cannot start is a warning: the daemon and the network go on.
    const lines: string[] = [];
    const restarted = new BridgeNetworks({ dir, host, services, log: (l) => lines.push(l) });
    restarted.load();
    calls.length = 0;
    await restarted.reconcile([]);
    assert.deepEqual(calls.slice(0, 2), [`bridge ${app.bridge}`, 'up app']);
    assert.deepEqual(lines, ['warning: cannot answer DNS for network app: the port is already in use']);
    refuse = false;
    calls.length = 0;
    await restarted.remove('app', () => []);
    assert.deepEqual(calls, ['down app', `delete ${app.bridge}`, 'nft delete']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('several networks: a tap each, all or nothing, every tap and address back at the exit', async () => {
  const calls: string[] = [];
  let failTap: string | undefined;
  const host: BridgeHost = {
    routes: async () => [],
    ensureBridge: async () => undefined,
    addTap: async (name, bridge) => {
      if (name === failTap) throw new Error('no room');
      calls.push(`tap ${name} ${bridge}`);
    },
    deleteLink: async (name) => void calls.push(`delete ${name}`),
    links: async () => [],
    applyNft: async () => undefined,
    deleteTable: async () => undefined,
    enableForwarding: async () => false,
    forwarding: () => true,
    foreignChains: async () => [],
    enableForwarding6: async () => false,
  };
  const dir = mkdtempSync(join(tmpdir(), 'cunik-bridge-multi-'));
  try {
    const nets = new BridgeNetworks({ dir, host });
    const one = await nets.create({ name: 'one', subnet: '10.213.7.0/24' });
    const two = await nets.create({ name: 'two', subnet: '10.213.8.0/24' });
    const id = 'ab'.repeat(32);
    calls.length = 0;
    const got = await nets.attachAll(id, [{ network: 'one' }, { network: 'two', ip: '10.213.8.9', macAddress: '02:00:00:00:00:09' }]);
    assert.deepEqual(got.map((a) => [a.network, a.tap, a.ip, a.mac]), [
      ['one', 'cuniktababababa', '10.213.7.2', macFor('10.213.7.2')],
      ['two', 'cuniktababababg', '10.213.8.9', '02:00:00:00:00:09'],
    ]);
    assert.deepEqual(calls.filter((c) => c.startsWith('tap')), [`tap cuniktababababa ${one.bridge}`, `tap cuniktababababg ${two.bridge}`]);
    await assert.rejects(nets.attachAll('cd'.repeat(32), [{ network: 'one' }, { network: 'one' }]), /already on network one/);
    assert.deepEqual(nets.allocations(one.id).map((a) => a.instanceId), [id], 'the refused one keeps nothing');
    failTap = 'cunikt' + 'ef'.repeat(4) + 'g';
    await assert.rejects(nets.attachAll('ef'.repeat(32), [{ network: 'one' }, { network: 'two' }]), /cannot attach to network two: no room/);
    assert.equal(nets.allocations(one.id).length + nets.allocations(two.id).length, 2, 'a failed second NIC gives back the first');
    calls.length = 0;
    await nets.detach(id);
    assert.deepEqual(calls, ['delete cuniktababababa', 'delete cuniktababababg']);
    assert.deepEqual([nets.allocations(one.id), nets.allocations(two.id)], [[], []]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
