// Published ports from the -p flag to QEMU's argv: parsing, validation, the user-mode network the
// adapters get, how ps and port print them, and the host-side check before QEMU starts.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { parseNetwork, parsePublish } from '../../src/cli/parse.js';
import { parseGuestPort, portLines, psPorts } from '../../src/cli/format/ports.js';
import { CunikError } from '../../src/errors.js';
import { linux } from '../../src/families/linux.js';
import { generic } from '../../src/families/generic.js';
import { bootConfig, exposedPorts, instanceConfig, networkSettings } from '../../src/instances/boot-config.js';
import type { InstanceRecord } from '../../src/instances/record.js';
import { passtArgv, passtBindFailure } from '../../src/network/passt.js';
import { normalizePorts } from '../../src/network/ports.js';
import { bindablePorts } from '../../src/network/probe.js';
import { qemuArgv } from '../../src/vmm/qemu/argv.js';
import { image, paths } from './family-helpers.js';

test('-p takes Docker\'s forms: [[IP:][HOSTPORT]:]GUESTPORT[/tcp|/udp], repeatable', () => {
  assert.deepEqual(parsePublish('8080:80'), [{ guestPort: 80, proto: 'tcp', hostPort: 8080 }]);
  assert.deepEqual(parsePublish('127.0.0.1:8080:80'), [{ guestPort: 80, proto: 'tcp', hostPort: 8080, hostIp: '127.0.0.1' }]);
  assert.deepEqual(parsePublish('127.0.0.1::80'), [{ guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1' }]);
  assert.deepEqual(parsePublish('80'), [{ guestPort: 80, proto: 'tcp' }]);
  assert.deepEqual(parsePublish('5353:53/udp'), [{ guestPort: 53, proto: 'udp', hostPort: 5353 }]);
  assert.deepEqual(parsePublish('8443:443/TCP'), [{ guestPort: 443, proto: 'tcp', hostPort: 8443 }]);
  assert.deepEqual(parsePublish('127.0.0.1:8080-8081:80-81/udp'), [{ guestPort: 80, proto: 'udp', hostIp: '127.0.0.1', hostPort: 8080 }, { guestPort: 81, proto: 'udp', hostIp: '127.0.0.1', hostPort: 8081 }]);
  assert.deepEqual(parsePublish('80-81'), [{ guestPort: 80, proto: 'tcp' }, { guestPort: 81, proto: 'tcp' }]);
  const two = parsePublish('2:1', parsePublish('4:3'));
  assert.deepEqual(two.map((p) => p.guestPort), [3, 1]);
});

test('bad -p values are refused, naming the value and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['', /the guest port must be a port number/],
    ['8080:', /the guest port/],
    ['0:80', /the host port must be a port number from 1 to 65535/],
    ['65536:80', /the host port/],
    ['8080:65536', /the guest port/],
    ['8080:80/sctp', /the protocol is tcp or udp/],
    ['8080-8090:80-85', /the host and guest port ranges must be of one length/],
    ['90-80', /the guest port range ends before it starts/],
    ['1-100', /at most 64 ports can be published/],
    ['a:b:c:d', /use \[HOSTIP:\]\[HOSTPORT:\]GUESTPORT/],
    ['[::1]:8080:80', /IPv4 addresses only/],
    ['localhost:8080:80', /must be an IPv4 address/],
    ['256.0.0.1:8080:80', /must be an IPv4 address/],
    ['x:80', /the host port/],
  ];
  for (const [value, why] of cases) {
    assert.throws(() => parsePublish(value), (e: Error) => e.message.startsWith(`invalid port mapping: ${value} (`) && why.test(e.message), value);
  }
  assert.deepEqual(parseNetwork('user'), [{ network: 'user' }]);
  assert.deepEqual(parseNetwork('none'), [{ network: 'none' }]);
  assert.deepEqual(parseNetwork('bridge'), [{ network: 'bridge' }]);
  assert.deepEqual(parseNetwork('back', parseNetwork('front-1')), [{ network: 'front-1' }, { network: 'back' }]);
  assert.deepEqual(parseNetwork('name=back,ip=10.1.0.9,mac-address=02:00:00:00:00:09'), [{ network: 'back', ip: '10.1.0.9', macAddress: '02:00:00:00:00:09' }]);
  assert.deepEqual(parseNetwork('name=back,alias=x,ip6=fd00::9,alias=y'), [{ network: 'back', aliases: ['x', 'y'], ip6: 'fd00::9' }]);
  assert.throws(() => parseNetwork('name=back,alias='), /invalid network option "alias=" \(name=NAME\[,ip=ADDR\]\[,ip6=ADDR\]\[,mac-address=MAC\]\[,alias=A\]\)/);
  assert.throws(() => parseNetwork('name=back,aliases=x'), /invalid network option "aliases=x"/);
  assert.throws(() => parseNetwork('-x'), /invalid network: "-x" \(user, none, bridge or a network's name\)/);
});

test('the daemon fills in defaults (tcp, 0.0.0.0 like Docker, any free port) and refuses clashes', () => {
  assert.deepEqual(normalizePorts([{ guestPort: 80 }, { guestPort: 53, proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353 }]), [
    { guestPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 0 },
    { guestPort: 53, proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353 },
  ]);
  // The same host port for tcp and udp, or on two addresses, is fine; free ports never clash.
  assert.equal(normalizePorts([{ guestPort: 1, hostPort: 9 }, { guestPort: 1, hostPort: 9, proto: 'udp' }, { guestPort: 2 }, { guestPort: 3 }]).length, 4);
  assert.equal(normalizePorts([{ guestPort: 1, hostPort: 9, hostIp: '127.0.0.1' }, { guestPort: 2, hostPort: 9, hostIp: '127.0.0.2' }]).length, 2);
  const bad: [Parameters<typeof normalizePorts>[0], RegExp][] = [
    [[{ guestPort: 1, hostPort: 9 }, { guestPort: 2, hostPort: 9 }], /^ports\[1\]: host port 0\.0\.0\.0:9\/tcp is already published by ports\[0\]$/],
    [[{ guestPort: 1, hostPort: 9, hostIp: '127.0.0.1' }, { guestPort: 2, hostPort: 9 }], /ports\[1\]: host port 0\.0\.0\.0:9\/tcp is already published/],
    [[{ guestPort: 1, hostIp: '::1' }], /ports\[0\]\.hostIp must be an IPv4 address/],
    [[{ guestPort: 0 }], /ports\[0\]\.guestPort must be a port number \(1-65535\), got 0/],
    [[{ guestPort: 1, hostPort: 70000 }], /ports\[0\]\.hostPort must be a port number \(0-65535\)/],
  ];
  for (const [req, why] of bad) {
    assert.throws(() => normalizePorts(req), (e: unknown) => e instanceof CunikError && e.code === 'INVALID_ARGUMENT' && why.test(e.message), why.source);
  }
});

const config = (patch: Partial<InstanceRecord['config']> = {}): InstanceRecord['config'] => ({
  args: [], env: [], memoryMiB: 64, cpus: 1, autoRemove: false, network: 'user', ports: [], ...patch,
});

test('user mode: the guest settings and the bound ports become a passt NIC (QEMU\'s end of the socket at fd 3) and passt\'s forwards, never mapping the gateway to the host', () => {
  const bound = [
    { guestPort: 80, proto: 'tcp' as const, hostIp: '127.0.0.1', hostPort: 8080 },
    { guestPort: 53, proto: 'udp' as const, hostIp: '0.0.0.0', hostPort: 40000 },
  ];
  const net = networkSettings(config(), bound);
  assert.deepEqual(net, { mode: 'user', ipAddress: '10.0.2.15', prefixLen: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'], ports: bound });
  const cfg = bootConfig(config(), net, { tscKhz: 2_000_000 });
  assert.equal(cfg.tscKhz, 2_000_000);
  const spec = linux.bootSpec(image('linux', { boot: 'linux', kernelPath: '/k' }), cfg);
  const argv = qemuArgv(spec, paths, 'tcg');
  const at = argv.indexOf('-netdev');
  assert.deepEqual(argv.slice(at, at + 4), [
    '-netdev', 'stream,id=net0,addr.type=fd,addr.str=3',
    '-device', 'virtio-net-device,netdev=net0',
  ]);
  assert.ok(!argv.some((a) => a.startsWith('user,')), 'no slirp: its gateway is the host\'s loopback');
  const nic = spec.nics![0]!;
  assert.equal(nic.backend.type, 'passt');
  assert.deepEqual(passtArgv(nic.backend as Extract<typeof nic.backend, { type: 'passt' }>, { binary: '/usr/bin/passt', runas: '999:995' }), [
    '/usr/bin/passt', '--foreground', '--quiet', '--fd', '3', '--ipv4-only', '--no-dhcpv6', '--no-ndp', '--no-ra', '--no-map-gw',
    '--address', '10.0.2.15', '--netmask', '24', '--gateway', '10.0.2.2', '--dns-forward', '10.0.2.3',
    '-t', '127.0.0.1/8080:80', '-u', '40000:53', '--runas', '999:995',
  ]);
  assert.match(spec.cmdline, / tsc_early_khz=2000000 /);
  assert.match(spec.cmdline, / ip=10\.0\.2\.15::10\.0\.2\.2:255\.255\.255\.0::eth0:off:10\.0\.2\.3(?: |$)/);
});

test('network none (and records from before networking) get no NIC; families without one attach nothing', () => {
  for (const c of [config({ network: 'none' }), { ...config(), network: undefined }]) {
    const net = networkSettings(c, []);
    assert.equal(net.mode, 'none');
    const cfg = bootConfig(c, net);
    assert.equal(cfg.networks, undefined);
    assert.equal(cfg.tscKhz, undefined);
    assert.ok(!qemuArgv(linux.bootSpec(image('linux', { boot: 'linux', kernelPath: '/k' }), cfg), paths, 'tcg').includes('-netdev'));
  }
  const spec = generic.bootSpec(image('generic', { kernelPath: '/k' }), bootConfig(config(), networkSettings(config(), [])));
  assert.equal(spec.nics, undefined, 'the service refuses -p for such a family');
});

test('ps and port print ports as docker does', () => {
  const ports = [
    { guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 },
    { guestPort: 53, proto: 'udp', hostIp: '0.0.0.0', hostPort: 5353 },
  ];
  assert.equal(psPorts(ports), '127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp');
  assert.equal(psPorts([]), '');
  assert.equal(portLines(ports), '80/tcp -> 127.0.0.1:8080\n53/udp -> 0.0.0.0:5353\n');
  assert.deepEqual(parseGuestPort('80'), { guestPort: 80, proto: 'tcp' });
  assert.deepEqual(parseGuestPort('53/udp'), { guestPort: 53, proto: 'udp' });
  assert.throws(() => parseGuestPort('80/sctp'), /invalid port: 80\/sctp/);
  assert.throws(() => parseGuestPort('0'), /invalid port: 0/);
});

test('before QEMU starts: a taken port is a CONFLICT naming it, port 0 becomes distinct free ports', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const taken = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(
      bindablePorts([{ guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: taken }]),
      (e: unknown) => e instanceof CunikError && e.code === 'CONFLICT' && e.message === `cannot publish 127.0.0.1:${taken}/tcp: the port is already in use on the host`,
    );
    // 0.0.0.0 overlaps 127.0.0.1.
    await assert.rejects(bindablePorts([{ guestPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: taken }]), /already in use/);
    // UDP on the same number is another port.
    const [udp] = await bindablePorts([{ guestPort: 53, proto: 'udp', hostIp: '127.0.0.1', hostPort: taken }]);
    assert.equal(udp!.hostPort, taken);
  } finally {
    blocker.close();
  }
  const free = await bindablePorts([
    { guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0 },
    { guestPort: 81, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0 },
  ]);
  assert.ok(free.every((p) => p.hostPort > 0));
  assert.notEqual(free[0]!.hostPort, free[1]!.hostPort);
  // Released again: QEMU can take them.
  const again = await bindablePorts(free);
  assert.deepEqual(again, free);
  await assert.rejects(bindablePorts([{ guestPort: 80, proto: 'tcp', hostIp: '192.0.2.1', hostPort: 0 }]), /192\.0\.2\.1 is not an address of this host/);
});

test('a create request becomes the record config: image defaults, user network by default, conflicts refused', () => {
  const boot = { memoryMiB: 64, cpus: 1 };
  assert.deepEqual(instanceConfig({ image: 'x' }, boot), {
    args: [], env: [], memoryMiB: 64, cpus: 1, autoRemove: false, restartPolicy: { name: 'no', maximumRetryCount: 0 }, network: 'user', ports: [],
  });
  const c = instanceConfig({ image: 'x', network: 'user', ports: [{ guestPort: 80, hostPort: 8080, hostIp: '127.0.0.1' }], memoryMiB: 128 }, boot);
  assert.deepEqual(c.ports, [{ guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 }]);
  assert.equal(c.memoryMiB, 128);
  assert.throws(() => instanceConfig({ image: 'x', network: 'none', ports: [{ guestPort: 80 }] }, boot), /conflicting options: published ports need a network/);
  assert.equal(instanceConfig({ image: 'x', network: 'none' }, boot).network, 'none');
  assert.throws(() => instanceConfig({ image: 'x', autoRemove: true, restartPolicy: { name: 'always' } }, boot), /conflicting options: --restart and --rm/);
});

test("passt's own bind failure (a port taken after the daemon's check) reads like the daemon's message", () => {
  const log = "passt: Failed to bind any port for '-t 127.0.0.1/46987:80', exiting; cunik-shim: the network helper (passt) exited with status 1: ending the VM";
  assert.equal(passtBindFailure(log), 'cannot publish 127.0.0.1:46987/tcp: the port is already in use on the host (passt could not listen on it)');
  assert.equal(passtBindFailure("passt: Failed to bind any port for '-u 53:53', exiting"), 'cannot publish 0.0.0.0:53/udp: the port is already in use on the host (passt could not listen on it)');
  assert.equal(passtBindFailure('qemu-system-x86_64: -kernel /x: No such file or directory'), undefined);
});

test('passtArgv: all host addresses bind without one; bad addresses, ports and users are refused naming the field', () => {
  const backend = { type: 'passt' as const, guest: { ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2' }, forwards: [{ proto: 'tcp' as const, hostAddr: '0.0.0.0', hostPort: 8080, guestPort: 80 }] };
  const argv = passtArgv(backend);
  assert.equal(argv[0], 'passt');
  assert.deepEqual(argv.slice(argv.indexOf('-t')), ['-t', '8080:80', '-u', 'none']);
  assert.ok(!argv.includes('--dns-forward'));
  const bad: [Partial<typeof backend> & Record<string, unknown>, RegExp][] = [
    [{ forwards: [{ ...backend.forwards[0]!, hostAddr: 'localhost' }] }, /forwards\[0\]\.hostAddr must be an IPv4 address/],
    [{ forwards: [{ ...backend.forwards[0]!, hostPort: 0 }] }, /forwards\[0\]\.hostPort must be a port number/],
    [{ guest: { ...backend.guest, gateway: '10.0.2' } }, /guest\.gateway must be an IPv4 address/],
    [{ guest: { ...backend.guest, prefix: 32 } }, /prefix length must be 1-30/],
  ];
  for (const [patch, why] of bad) assert.throws(() => passtArgv({ ...backend, ...patch } as typeof backend), (e: unknown) => e instanceof CunikError && why.test(e.message), why.source);
  assert.throws(() => passtArgv(backend, { runas: 'cunik-vm' }), /UID:GID/);
});

test('-P: the image\'s exposed ports (org.cunik.ports) not already published by -p, on free host ports', () => {
  assert.deepEqual(exposedPorts({ 'org.cunik.ports': '["80/tcp","53/udp","80/tcp","8080"]' }, [{ guestPort: 53, proto: 'udp', hostPort: 5353 }]), [{ guestPort: 80, proto: 'tcp' }, { guestPort: 8080, proto: 'tcp' }]);
  assert.deepEqual(exposedPorts({}, []), []);
  assert.throws(() => exposedPorts({ 'org.cunik.ports': '{"80":1}' }, []), /org\.cunik\.ports label is not a JSON list of ports/);
  assert.throws(() => exposedPorts({ 'org.cunik.ports': '["80/sctp"]' }, []), /the image exposes "80\/sctp", which is not PORT\[\/tcp\|udp\]/);
});
