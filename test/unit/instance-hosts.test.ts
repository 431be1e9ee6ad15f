// A guest's names: run --add-host lines (instances/boot-config.ts extraHost) as the record keeps
// them and as the family adapters get them, and the host name an instance config carries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from 'typebox/value';
import { CreateInstanceRequest, type NetworkSettings } from '../../src/api/schemas.js';
import { bootConfig, exposedPorts, extraHost, instanceConfig, networkSettings } from '../../src/instances/boot-config.js';

const image = { memoryMiB: 64, cpus: 1 };

test("extraHost: Docker's NAME:ADDRESS and NAME=ADDRESS, IPv6 with or without brackets, host-gateway", () => {
  const ok: [string, { name: string; address: string }][] = [
    ['db:10.0.0.5', { name: 'db', address: '10.0.0.5' }],
    ['db=10.0.0.5', { name: 'db', address: '10.0.0.5' }],
    ['v6.example.com:fd00::5', { name: 'v6.example.com', address: 'fd00::5' }],
    ['v6:[fd00::5]', { name: 'v6', address: 'fd00::5' }],
    ['host.docker.internal:host-gateway', { name: 'host.docker.internal', address: 'host-gateway' }],
  ];
  for (const [text, want] of ok) assert.deepEqual(extraHost(text), want, text);
  const bad: [string, RegExp][] = [
    ['db', /give NAME:ADDRESS/],
    [':10.0.0.5', /give NAME:ADDRESS/],
    ['a b:10.0.0.5', /give NAME:ADDRESS/],
    ['db:10.0.0.300', /"10\.0\.0\.300" is not an IP address \(nor host-gateway\)/],
    ['db:gateway', /is not an IP address/],
    ['db:10.0.0.5 init=/bin/sh', /is not an IP address/],
  ];
  for (const [text, re] of bad) assert.throws(() => extraHost(text), (e: Error & { code?: string; field?: string }) => re.test(e.message) && e.code === 'INVALID_ARGUMENT' && e.field === 'extraHosts', text);
});

test('instanceConfig keeps --add-host as NAME:ADDRESS and --hostname; bootConfig hands both to the family', () => {
  const config = instanceConfig({ image: 'x', hostname: 'web1', extraHosts: ['db=10.0.0.5', 'v6:[fd00::5]', 'h:host-gateway'] }, image);
  assert.equal(config.hostname, 'web1');
  assert.deepEqual(config.extraHosts, ['db:10.0.0.5', 'v6:fd00::5', 'h:host-gateway']);
  const boot = bootConfig(config, networkSettings(config, []));
  assert.equal(boot.hostname, 'web1');
  assert.deepEqual(boot.extraHosts, [{ name: 'db', address: '10.0.0.5' }, { name: 'v6', address: 'fd00::5' }, { name: 'h', address: 'host-gateway' }]);
  assert.equal(instanceConfig({ image: 'x' }, image).extraHosts, undefined);
});

test('the API checks --user and --workdir against what the kernel command line can carry', () => {
  for (const user of ['nobody', '1000', '1000:1000', 'www-data:www-data', '_svc.x']) assert.ok(Value.Check(CreateInstanceRequest, { image: 'x', user }), user);
  for (const user of ['', 'a b', 'a:b:c', ':x', 'x:', '-x', 'a"b', 'x'.repeat(33)]) assert.ok(!Value.Check(CreateInstanceRequest, { image: 'x', user }), user);
  for (const workdir of ['/', '/srv/app', '/a-b_c.d']) assert.ok(Value.Check(CreateInstanceRequest, { image: 'x', workdir }), workdir);
  for (const workdir of ['', 'rel', '/a b', '/a\tb', '/a"b', '/x\ny']) assert.ok(!Value.Check(CreateInstanceRequest, { image: 'x', workdir }), workdir);
});

test('--dns, --dns-search, --dns-option: kept as given; bad ones refused; --dns on a user-defined network goes to its gateway', () => {
  const config = instanceConfig({ image: 'x', dns: ['192.0.2.53'], dnsSearch: ['corp.example'], dnsOptions: ['ndots:2'] }, image);
  assert.deepEqual([config.dns, config.dnsSearch, config.dnsOptions], [['192.0.2.53'], ['corp.example'], ['ndots:2']]);
  assert.deepEqual(bootConfig(config, networkSettings(config, [])).dns, { servers: ['192.0.2.53'], search: ['corp.example'], options: ['ndots:2'] });
  assert.equal(bootConfig(instanceConfig({ image: 'x' }, image), networkSettings(instanceConfig({ image: 'x' }, image), [])).dns, undefined);
  assert.throws(() => instanceConfig({ image: 'x', dns: ['dns.example'] }, image), /invalid --dns "dns\.example": give the IP address of a resolver$/);
  assert.throws(() => instanceConfig({ image: 'x', dnsSearch: ['a b'] }, image), /invalid --dns-search "a b": give a domain name$/);
  // On a user-defined network the guest asks its gateway (its peers' names) and --dns is where the gateway forwards the rest.
  const onNet = instanceConfig({ image: 'x', dns: ['192.0.2.53'], dnsSearch: ['corp.example'], network: 'mynet' }, image);
  assert.deepEqual(onNet.dns, ['192.0.2.53']);
  const mynet: NetworkSettings = { mode: 'mynet', ipAddress: '10.89.0.2', prefixLen: 24, gateway: '10.89.0.1', dns: ['10.89.0.1'], ports: [], tap: 'ck0' };
  assert.deepEqual(bootConfig(onNet, mynet).dns, { search: ['corp.example'] });
  assert.deepEqual(bootConfig(onNet, mynet).networks?.[0]?.dns, ['10.89.0.1']);
  // A network whose gateway answers no DNS (its responder could not bind): the resolvers go to the guest itself.
  assert.deepEqual(bootConfig(onNet, { ...mynet, dns: [] }).dns, { servers: ['192.0.2.53'], search: ['corp.example'] });
  assert.equal(instanceConfig({ image: 'x', dnsSearch: ['corp.example'], network: 'mynet' }, image).dnsSearch?.[0], 'corp.example');
  assert.ok(!Value.Check(CreateInstanceRequest, { image: 'x', dnsOptions: ['ndots 2'] }));
  assert.ok(!Value.Check(CreateInstanceRequest, { image: 'x', dns: ['1.1.1.1', '1.0.0.1', '8.8.8.8', '8.8.4.4'] }));
});

test('--expose: kept once each, tcp by default; -P publishes them beside the image\'s', () => {
  assert.deepEqual(instanceConfig({ image: 'x', expose: [{ guestPort: 9000 }, { guestPort: 9000, proto: 'tcp' }, { guestPort: 53, proto: 'udp' }] }, image).expose, [{ guestPort: 9000, proto: 'tcp' }, { guestPort: 53, proto: 'udp' }]);
  assert.deepEqual(exposedPorts({ 'org.cunik.ports': '["80"]' }, [{ guestPort: 80 }], [{ guestPort: 9000 }, { guestPort: 80, proto: 'tcp' }]), [{ guestPort: 9000, proto: 'tcp' }]);
});

test('the API refuses a host name that is none, and more than 16 --add-host lines', () => {
  for (const hostname of ['web-1', 'a.b.c', 'x'.repeat(63)]) assert.ok(Value.Check(CreateInstanceRequest, { image: 'x', hostname }), hostname);
  for (const hostname of ['-web', 'web-', 'a_b', 'a..b', 'a b', '', 'x'.repeat(65), `${'x'.repeat(63)}.${'y'.repeat(10)}`.padEnd(70, 'z')]) {
    assert.ok(!Value.Check(CreateInstanceRequest, { image: 'x', hostname }), hostname);
  }
  assert.ok(!Value.Check(CreateInstanceRequest, { image: 'x', extraHosts: Array.from({ length: 17 }, (_, i) => `h${i}:10.0.0.${i}`) }));
});
