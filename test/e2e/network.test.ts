// User-mode networking end to end: a linux image (busybox-static httpd, built here by `cunik build`)
// reached from the host through ports published with -p, `cunik port`, ps PORTS, conflicts and
// bad mappings.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { InstanceDetail } from '../../src/api/schemas.js';
import { cli, helloKernel, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';
import { freePort, linuxGuestMissing, passtFor } from '../helpers/linux-guest.js';

const missing = linuxGuestMissing().join('; ');

let d: TestDaemon;
let ctx: string;
const run = (args: string[]) => cli(args, { socket: d.socket });


async function get(port: number, path = '/'): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined; // not up yet: passt accepts on the host and drops the connection
  }
}

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-net-'));
  mkdirSync(join(ctx, 'www'));
  writeFileSync(join(ctx, 'www', 'index.html'), '<h1>served from a microVM</h1>\n');
  writeFileSync(join(ctx, 'Cunikfile'), [
    'family: linux',
    'app: /bin/busybox',
    'files:',
    '  - { src: www/index.html, dst: /www/index.html }',
    'args: [httpd, -f, -v, -p, "80", -h, /www]',
    'memory: 128M',
    '',
  ].join('\n'));
  d = await startDaemon();
  const b = await run(['build', '-q', '-t', 'webtest', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
});
after(async () => {
  await d?.stop();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test('-p publishes guest port 80 on 127.0.0.1 (a fixed and a free host port); ps, port and inspect show them', { timeout: 240_000 }, async () => {
  const port = await freePort();
  const r = await run(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, '-p', '127.0.0.1::80', 'webtest']);
  assert.equal(r.code, 0, r.stderr);

  const body = await waitFor('httpd through the published port', () => get(port), 180_000);
  assert.equal(body, '<h1>served from a microVM</h1>\n');

  const info = (await d.client.inspectInstance('web')) satisfies InstanceDetail;
  assert.equal(info.config.network, 'user');
  assert.deepEqual(info.config.ports, [
    { guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: port },
    { guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0 },
  ]);
  assert.equal(info.network?.mode, 'user');
  assert.equal(info.network?.ipAddress, '10.0.2.15');
  assert.equal(info.network?.gateway, '10.0.2.2');
  const chosen = info.network!.ports[1]!.hostPort;
  assert.ok(chosen > 0 && chosen !== port, `a free port was chosen: ${chosen}`);
  assert.equal(await get(chosen), '<h1>served from a microVM</h1>\n');
  const argv = info.vm.argv.join(' ');
  // passt carries the ports (bound to the address asked for); QEMU only has its end of the socket.
  assert.match(argv, /-netdev stream,id=net0,addr\.type=fd,addr\.str=3 /);
  assert.doesNotMatch(argv, /hostfwd|-netdev user/);
  assert.equal(passtFor(port).length, 1, 'one passt, publishing 127.0.0.1:port');
  assert.match(argv, /-append \S.* ip=10\.0\.2\.15::10\.0\.2\.2:255\.255\.255\.0::eth0:off:10\.0\.2\.3/);

  const ps = await run(['ps']);
  assert.match(ps.stdout, /^INSTANCE ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/m);
  assert.ok(ps.stdout.includes(`127.0.0.1:${port}->80/tcp, 127.0.0.1:${chosen}->80/tcp`), ps.stdout);

  const all = await run(['port', 'web']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stdout, `80/tcp -> 127.0.0.1:${port}\n80/tcp -> 127.0.0.1:${chosen}\n`);
  const one = await run(['port', 'web', '80/tcp']);
  assert.equal(one.stdout, `127.0.0.1:${port}\n127.0.0.1:${chosen}\n`);
  const none = await run(['port', 'web', '81']);
  assert.equal(none.code, 125);
  assert.equal(none.stderr, "cunik: no public port '81/tcp' published for web\n");

  assert.equal((await run(['rm', '-f', 'web'])).code, 0);
  assert.equal(await get(port), undefined, 'the port is released with the VM');
  await waitFor('its passt gone with the VM', () => passtFor(port).length === 0 || undefined);
});

test('a host port already taken: the start fails with one line, exit 125, no VM left; --rm removes the instance', { timeout: 60_000 }, async () => {
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = await run(['run', '-d', '--name', 'clash', '-p', `127.0.0.1:${port}:80`, 'webtest']);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, `cunik: cannot publish 127.0.0.1:${port}/tcp: the port is already in use on the host\n`);
    const info = await d.client.inspectInstance('clash');
    assert.equal(info.state, 'created');
    assert.equal(info.pid, null);
    assert.equal((await run(['port', 'clash'])).stdout, '');
    assert.equal((await run(['rm', 'clash'])).code, 0);

    const fg = await run(['run', '--rm', '--name', 'clash2', '-p', `127.0.0.1:${port}:80`, 'webtest']);
    assert.equal(fg.code, 125);
    assert.match(fg.stderr, /^cunik: cannot publish .*already in use on the host\n$/);
    assert.equal((await run(['ps', '-a', '-q'])).stdout, '');
  } finally {
    blocker.close();
  }
});

test('bad mappings and conflicting options: one line, exit 125, nothing stored', async () => {
  const cases: [string[], RegExp][] = [
    [['-p', '70000:80'], /^cunik: .*invalid port mapping: 70000:80 \(the host port must be a port number from 1 to 65535\)\n$/],
    [['-p', '8080:0'], /^cunik: .*invalid port mapping: 8080:0 /],
    [['-p', '8080:80/sctp'], /^cunik: .*the protocol is tcp or udp/],
    [['-p', '8080-8082:80-81'], /^cunik: .*the host and guest port ranges must be of one length/],
    [['-p', 'localhost:8080:80'], /^cunik: .*must be an IPv4 address/],
    [['--network', 'nosuchnet'], /^cunik: no such network: nosuchnet\n$/],
    [['--ip', '10.213.0.5'], /^cunik: conflicting options: --ip needs a bridge network \(not --network user\)\n$/],
    [['--network', 'none', '-p', '8080:80'], /^cunik: conflicting options: published ports need a network/],
    [['-p', '127.0.0.1:8080:80', '-p', '8080:81'], /^cunik: ports\[1\]: host port 0\.0\.0\.0:8080\/tcp is already published by ports\[0\]\n$/],
  ];
  for (const [flags, message] of cases) {
    const r = await run(['run', '-d', ...flags, 'webtest']);
    assert.equal(r.code, 125, flags.join(' '));
    assert.match(r.stderr, message, flags.join(' '));
  }
  // A family that attaches no NIC (the generic test kernel) cannot publish anything.
  assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
  const generic = await run(['run', '-d', '--name', 'nonic', '-p', '127.0.0.1:8080:80', 'hello']);
  assert.equal(generic.code, 125);
  assert.equal(generic.stderr, 'cunik: the generic family attaches no network device for this image: ports cannot be published\n');
  // A refused create does not keep the name it asked for.
  const retry = await run(['create', '--name', 'nonic', 'hello']);
  assert.equal(retry.code, 0, retry.stderr);
  assert.equal((await run(['rm', 'nonic'])).code, 0);
  // Through the API too (the CLI's checks bypassed): the daemon refuses and stores nothing.
  await assert.rejects(d.client.createInstance({ image: 'webtest', ports: [{ guestPort: 80, hostIp: 'localhost' }] }), /ports\[0\]\.hostIp must be an IPv4 address/);
  await assert.rejects(d.client.createInstance({ image: 'webtest', ports: [{ guestPort: 80, hostPort: 70000 }] }), /hostPort/);
  assert.equal((await run(['ps', '-a', '-q'])).stdout, '');
  assert.deepEqual(readdirSync(join(d.root, 'instances')), []);
});
