// The Docker compat layer's pure translations: create bodies, stream framing, query forms, names.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { installRoot } from '../../src/config/defaults.js';
import { CreateInstanceRequest, UpdateInstanceRequest } from '../../src/api/schemas.js';
import { checked } from '../../src/compat/docker/checked.js';
import { createRequest } from '../../src/compat/docker/create.js';
import { updateRequest } from '../../src/compat/docker/update.js';
import { loginRegistry, registryAuth } from '../../src/compat/docker/images.js';
import { familiar } from '../../src/compat/docker/names.js';
import { filters, flag, nativeFilters } from '../../src/compat/docker/query.js';
import { frame } from '../../src/compat/docker/stream.js';
import { unsupportedReason } from '../../src/compat/docker/unsupported.js';

test('createRequest maps what docker run sends onto the native request', () => {
  const table: [unknown, string | undefined, unknown][] = [
    [{ Image: 'hello', Cmd: ['exit=3'], Env: [], HostConfig: { AutoRemove: true, NetworkMode: 'default' } }, undefined, { image: 'hello', args: ['exit=3'], autoRemove: true }],
    [{ Image: 'docker.io/library/hello', Cmd: null, HostConfig: { Memory: 48 * 1024 * 1024, NanoCpus: 2e9 } }, '/web', { image: 'hello', name: 'web', memoryMiB: 48, cpus: 2 }],
    [
      { Image: 'httpd', ExposedPorts: { '80/tcp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }, { HostIp: '', HostPort: '' }] } } },
      'web',
      { image: 'httpd', name: 'web', ports: [{ guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 18080 }, { guestPort: 80, proto: 'tcp' }], expose: [{ guestPort: 80, proto: 'tcp' }] },
    ],
    [
      { Image: 'x', Volumes: { '/cache': {} }, Labels: { team: 'a' }, HostConfig: { Binds: ['data:/data:ro', '/srv:/srv'], RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 }, NetworkMode: 'bridge' } },
      '',
      {
        image: 'x',
        restartPolicy: { name: 'on-failure', maximumRetryCount: 3 },
        network: 'bridge',
        mounts: [{ type: 'volume', source: 'data', target: '/data', readonly: true }, { type: 'bind', source: '/srv', target: '/srv' }, { type: 'volume', target: '/cache' }],
        labels: { team: 'a' },
      },
    ],
    [{ Image: 'x', HostConfig: { NetworkMode: 'default' }, NetworkingConfig: { EndpointsConfig: { default: {} } } }, undefined, { image: 'x' }],
    // docker run --mount: HostConfig.Mounts beside Binds; options holding only zero values are none.
    [
      { Image: 'x', HostConfig: { Binds: ['/srv:/srv'], Mounts: [{ Type: 'volume', Source: 'data', Target: '/data', ReadOnly: true, VolumeOptions: {} }, { Type: 'bind', Source: '/etc/app', Target: '/cfg', BindOptions: { Propagation: '' } }, { Type: 'volume', Target: '/scratch' }] } },
      undefined,
      { image: 'x', mounts: [{ type: 'volume', source: 'data', target: '/data', readonly: true }, { type: 'bind', source: '/etc/app', target: '/cfg' }, { type: 'volume', target: '/scratch' }, { type: 'bind', source: '/srv', target: '/srv' }] },
    ],
    // docker run --read-only: the native readOnly (false, as docker sends without the flag, is nothing).
    [{ Image: 'x', HostConfig: { ReadonlyRootfs: true } }, undefined, { image: 'x', readOnly: true }],
    [{ Image: 'x', HostConfig: { ReadonlyRootfs: false } }, undefined, { image: 'x' }],
    // docker run -h: Config.Hostname ("" when not given).
    [{ Image: 'x', Hostname: 'web1', Domainname: '' }, undefined, { image: 'x', hostname: 'web1' }],
    [{ Image: 'x', Hostname: '' }, undefined, { image: 'x' }],
    // Asking nothing a VM does not already do: --cidfile (the CLI's file), --memory-swap -1, --log-driver json-file.
    [{ Image: 'x', HostConfig: { ContainerIDFile: '/tmp/cid', MemorySwap: -1, MemorySwappiness: -1, LogConfig: { Type: 'json-file', Config: {} } } }, undefined, { image: 'x' }],
    // docker run --expose: Config.ExposedPorts (-P publishes them too).
    [{ Image: 'x', ExposedPorts: { '9000/tcp': {}, '53/udp': {} }, HostConfig: { PublishAllPorts: true } }, undefined, { image: 'x', publishAll: true, expose: [{ guestPort: 9000, proto: 'tcp' }, { guestPort: 53, proto: 'udp' }] }],
    // docker run -t: the console is a terminal (attach and logs unframed).
    [{ Image: 'x', Tty: true, OpenStdin: true }, undefined, { image: 'x', tty: true }],
    // docker run -u / -w: the native user and workdir (linux images).
    [{ Image: 'x', User: 'www-data', WorkingDir: '/srv' }, undefined, { image: 'x', user: 'www-data', workdir: '/srv' }],
    // docker run --entrypoint: the program, then the entrypoint's other words and Cmd; [""] clears the image's.
    [{ Image: 'x', Entrypoint: ['/bin/sh'], Cmd: null }, undefined, { image: 'x', entrypoint: '/bin/sh', args: [] }],
    [{ Image: 'x', Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'] }, undefined, { image: 'x', entrypoint: '/bin/sh', args: ['-c', 'echo hi'] }],
    [{ Image: 'x', Entrypoint: [''], Cmd: ['ls', '-l'] }, undefined, { image: 'x', entrypoint: 'ls', args: ['-l'] }],
    [{ Image: 'x', Entrypoint: [], Cmd: ['a'] }, undefined, { image: 'x', args: ['a'] }],
    // docker run --dns, --dns-search, --dns-option: the native dns settings, checked there.
    [{ Image: 'x', HostConfig: { Dns: ['192.0.2.53'], DnsSearch: ['corp.example'], DnsOptions: ['ndots:2'] } }, undefined, { image: 'x', dns: ['192.0.2.53'], dnsSearch: ['corp.example'], dnsOptions: ['ndots:2'] }],
    // docker run --add-host: as the native extraHosts, checked there.
    [{ Image: 'x', HostConfig: { ExtraHosts: ['db:10.0.0.5', 'host.docker.internal:host-gateway'] } }, undefined, { image: 'x', extraHosts: ['db:10.0.0.5', 'host.docker.internal:host-gateway'] }],
    // docker run --stop-signal/--stop-timeout; StopTimeout 0 is a timeout, null is none; "" is no signal.
    [{ Image: 'x', StopSignal: 'SIGKILL', StopTimeout: 0 }, undefined, { image: 'x', stopSignal: 'SIGKILL', stopTimeout: 0 }],
    [{ Image: 'x', StopSignal: '', StopTimeout: null }, undefined, { image: 'x' }],
    [
      { Image: 'x', HostConfig: { NetworkMode: 'front', PublishAllPorts: true }, NetworkingConfig: { EndpointsConfig: { front: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.9.0.5' } }, back: { MacAddress: '02:00:00:00:00:01' } } } },
      undefined,
      { image: 'x', network: 'front', ip: '10.9.0.5', aliases: ['web'], extraNetworks: [{ network: 'back', macAddress: '02:00:00:00:00:01' }], publishAll: true },
    ],
  ];
  for (const [body, name, want] of table) assert.deepEqual(checked(CreateInstanceRequest, createRequest(body, name)), want);
});

test('createRequest refuses what a unikernel cannot honour, naming it', () => {
  const table: [unknown, RegExp][] = [
    [{ Image: 'x', Entrypoint: [''] }, /^Entrypoint "" needs a command to run$/],
    [{ Image: 'x', StopTimeout: -1 }, /^StopTimeout must be a non-negative number of seconds/],
    [{ Image: 'x', StopSignal: 15 }, /^StopSignal must be a string/],
    [{ Image: 'x', Tty: 'yes' }, /^Tty must be a boolean$/],
    [{ Image: 'x', Domainname: 'example.com' }, /^Domainname is not supported: give the whole name with --hostname$/],
    // Fields outside the translation are refused by name, never dropped (with the flag users know).
    [{ Image: 'x', HostConfig: { CapDrop: ['ALL'] } }, /^HostConfig\.CapDrop \(--cap-drop\) is not supported by Cunik's Docker API/],
    [{ Image: 'x', HostConfig: { LogConfig: { Type: 'none', Config: {} } } }, /^HostConfig\.LogConfig \(--log-driver\/--log-opt\) is not supported/],
    [{ Image: 'x', HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '10m' } } } }, /^HostConfig\.LogConfig \(--log-driver\/--log-opt\) is not supported/],
    [{ Image: 'x', HostConfig: { MemorySwap: 1 << 30 } }, /^HostConfig\.MemorySwap \(--memory-swap\) is not supported/],
    [{ Image: 'x', HostConfig: { DeviceRequests: [{ Count: -1, Capabilities: [['gpu']] }] } }, /^HostConfig\.DeviceRequests \(--gpus\)/],
    [{ Image: 'x', HostConfig: { MemorySwappiness: 10 } }, /^HostConfig\.MemorySwappiness is not supported/],
    [{ Image: 'x', OnBuild: ['RUN x'] }, /^OnBuild is not supported/],
    [{ Image: 'x', Hostname: 5 }, /^Hostname must be a string$/],
    [{ Image: 'x', User: 0 }, /^User must be a string$/],
    [{ Image: 'x', HostConfig: { Privileged: true } }, /^HostConfig\.Privileged is not supported/],
    [{ Image: 'x', HostConfig: { NanoCpus: 1.5e9 } }, /^--cpus 1\.5 is not supported: a VM gets whole virtual CPUs/],
    [{ Image: 'x', HostConfig: { NetworkMode: 'host' } }, /^network mode host is not supported/],
    [{ Image: 'x', HostConfig: { PortBindings: { '80-81/tcp': [] } } }, /^port "80-81\/tcp" is not supported/],
    [{ Image: 'x', HostConfig: { Binds: ['a:/b:z'] } }, /^bind option "z" is not supported/],
    [{ Image: 'x', HostConfig: { Mounts: [{ Type: 'tmpfs', Target: '/t' }] } }, /^invalid mount: type "tmpfs" is not supported \(volume or bind\)$/],
    [{ Image: 'x', HostConfig: { Mounts: [{ Type: 'bind', Source: '/a', Target: '/b', BindOptions: { Propagation: 'rshared' } }] } }, /^invalid mount: BindOptions is not supported/],
    [{ Image: 'x', HostConfig: { Mounts: [{ Type: 'volume', Source: 'v', Target: '/b', VolumeOptions: { DriverConfig: { Name: 'nfs' } } }] } }, /^invalid mount: VolumeOptions is not supported/],
    [{ Image: 'x', HostConfig: { Mounts: [{ Type: 'bind', Target: '/b' }] } }, /^invalid mount: a bind mount needs a source/],
    [{ Image: 'x', HostConfig: { Mounts: [{ Type: 'volume', Source: 'v', Target: 7 }] } }, /^HostConfig\.Mounts\[0\]\.Target must be a string/],
    [{ Image: 'x', HostConfig: { Mounts: { Type: 'volume' } } }, /^HostConfig\.Mounts must be a list/],
    [{ Image: 'x', Healthcheck: { Test: ['CMD', 'true'] } }, /^Healthcheck\.Test CMD is not supported: health checks that exec inside the guest/],
    [{ Image: 'x', Healthcheck: { Test: ['CMD-SHELL', 'curl -f localhost'] } }, /^Healthcheck\.Test CMD-SHELL is not supported: .*--health-http/],
    [{ Image: 'x', Healthcheck: { Interval: 1500 } }, /^Healthcheck\.Interval 1500ns is not supported: give whole milliseconds/],
    [{ Image: 'x', Healthcheck: { StartInterval: 1e9 } }, /^Healthcheck\.StartInterval is not supported/],
    [{ Image: 7 }, /^Image must be given/],
    [{ Image: 'x', Cmd: [1] }, /^Cmd must be an array of strings/],
    [[], /^body must be an object/],
  ];
  for (const [body, re] of table) assert.throws(() => createRequest(body, undefined), (e: Error) => re.test(e.message), JSON.stringify(body));
  // The native rules apply to what was translated: a name Docker allows but Cunik does not, a range.
  assert.throws(() => checked(CreateInstanceRequest, createRequest({ Image: 'x', HostConfig: { Memory: 1 } }, undefined)), /memoryMiB must be at least/);
  assert.throws(() => checked(CreateInstanceRequest, createRequest({ Image: 'x' }, 'bad name!')), /name/);
});

test('updateRequest: Memory, NanoCpus and RestartPolicy of what docker update sends; anything else set is refused by name', () => {
  // The docker CLI sends every field, zero when not given (docker update -m 96m --restart no).
  const zeros = { BlkioWeight: 0, CpuShares: 0, CpuPeriod: 0, CpuQuota: 0, CpusetCpus: '', Memory: 0, MemorySwap: 0, MemoryReservation: 0, NanoCpus: 0, PidsLimit: null, OomKillDisable: null, MemorySwappiness: null, Ulimits: null, Devices: null, RestartPolicy: { Name: '', MaximumRetryCount: 0 } };
  const table: [unknown, unknown][] = [
    [{ ...zeros, Memory: 96 * 1024 * 1024 }, { memoryMiB: 96 }],
    [{ ...zeros, Memory: 5 * 1024 * 1024 + 1, NanoCpus: 2e9 }, { memoryMiB: 6, cpus: 2 }],
    [{ ...zeros, RestartPolicy: { Name: 'no' } }, { restartPolicy: { name: 'no' } }],
    [{ ...zeros, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } }, { restartPolicy: { name: 'on-failure', maximumRetryCount: 2 } }],
  ];
  for (const [body, want] of table) assert.deepEqual(checked(UpdateInstanceRequest, updateRequest(body)), want, JSON.stringify(body));
  const refused: [unknown, RegExp][] = [
    [zeros, /^nothing to update: give Memory, NanoCpus or RestartPolicy$/],
    [{ ...zeros, Memory: 64 * 1024 * 1024, MemorySwap: -1 }, /^MemorySwap is not supported: a VM has no swap limit/],
    [{ ...zeros, CpuShares: 512 }, /^CpuShares is not supported: give whole CPUs with --cpus$/],
    [{ ...zeros, PidsLimit: 100 }, /^PidsLimit is not supported/],
    [{ ...zeros, NanoCpus: 5e8 }, /^--cpus 0\.5 is not supported: a VM gets whole virtual CPUs$/],
    [{ ...zeros, RestartPolicy: { Name: 'sometimes' } }, /^restart policy "sometimes" is not one of/],
    ['x', /^body must be an object$/],
  ];
  for (const [body, re] of refused) assert.throws(() => updateRequest(body), (e: Error) => re.test(e.message), JSON.stringify(body));
  assert.equal(unsupportedReason('GET', '/v1.44/containers/x/changes'), 'not supported by Cunik\'s Docker API: GET /containers/x/changes (docker diff: a VM writes inside its own disks, which the host does not list)');
});

test('frames are Docker stdcopy: stream byte, three zeros, big-endian length', () => {
  assert.deepEqual([...frame(Buffer.from('hi'))], [1, 0, 0, 0, 0, 0, 0, 2, 104, 105]);
  assert.equal(frame(Buffer.alloc(70000)).readUInt32BE(4), 70000);
});

test('query forms: booleans, filters as list or set, unknown filters named', () => {
  assert.equal(flag({ all: '1' }, 'all'), true);
  assert.equal(flag({ all: 'false' }, 'all'), false);
  assert.equal(flag({}, 'stream', true), true);
  assert.throws(() => flag({ all: 'yes' }, 'all'), /all must be 1, true, 0 or false/);
  assert.deepEqual([...filters({ filters: '{"type":{"container":true}}' }, ['type'], 'events')], [['type', ['container']]]);
  assert.deepEqual([...filters({ filters: '{"type":["image"]}' }, ['type'], 'events')], [['type', ['image']]]);
  assert.throws(() => filters({ filters: '{"daemon":["x"]}' }, ['type'], 'events'), /events filter "daemon" is not supported \(supported: type\)/);
  assert.equal(nativeFilters({ filters: '{"status":{"exited":true},"label":{"a=b":true}}' }), '{"status":["exited"],"label":["a=b"]}');
  assert.equal(nativeFilters({ filters: '{}' }), undefined);
  assert.throws(() => filters({ filters: 'nope' }, ['type'], 'events'), /must be a JSON object/);
});

test('names and registry auth as the Go client sends them', () => {
  assert.equal(familiar('docker.io/library/hello:v2'), 'hello:v2');
  assert.equal(familiar('docker.io/team/app'), 'team/app');
  assert.equal(familiar('127.0.0.1:5000/demo/hello:1.0'), '127.0.0.1:5000/demo/hello:1.0');
  assert.equal(registryAuth(Buffer.from('{}').toString('base64url')), undefined);
  assert.deepEqual(registryAuth(Buffer.from('{"username":"u","password":"p","serveraddress":"h"}').toString('base64url')), { username: 'u', password: 'p' });
  assert.throws(() => registryAuth('!!!'), /X-Registry-Auth/);
  assert.equal(unsupportedReason('POST', '/v1.44/containers/abc/exec'), "not supported by Cunik's Docker API: POST /containers/abc/exec (exec: a unikernel runs one program and has no processes to start another in)");
});

test('Config.Healthcheck: NONE and timings map (the image keeps its probe), State.Health in inspect', async () => {
  const { healthState } = await import('../../src/compat/docker/health.js');
  assert.deepEqual(createRequest({ Image: 'x', Healthcheck: { Test: ['NONE'] } }, undefined).healthcheck, { disable: true });
  assert.deepEqual(createRequest({ Image: 'x', Healthcheck: { Test: [], Interval: 200e6, Timeout: 1e9, Retries: 2, StartPeriod: 0 } }, undefined).healthcheck, { intervalMs: 200, timeoutMs: 1000, retries: 2 });
  assert.equal(createRequest({ Image: 'x', Healthcheck: { Test: null, Interval: 0 } }, undefined).healthcheck, undefined);
  const log = [{ start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:00:00.010Z', exitCode: 1, output: 'refused' }];
  assert.deepEqual(healthState({ health: { status: 'unhealthy', failingStreak: 3, log } }), {
    Health: { Status: 'unhealthy', FailingStreak: 3, Log: [{ Start: log[0]!.start, End: log[0]!.end, ExitCode: 1, Output: 'refused' }] },
  });
  assert.deepEqual(healthState({ health: null }), {});
});

test("loginRegistry: docker login's serveraddress as HOST[:PORT]; Docker Hub's index server is the daemon's default", () => {
  const cases: [string, string | undefined][] = [
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['https://hub.example.com/v2/', 'hub.example.com'],
    ['https://index.docker.io/v1/', undefined],
    ['docker.io', undefined],
    ['', undefined],
  ];
  for (const [given, want] of cases) assert.equal(loginRegistry(given), want, given);
});

test('createRequest takes the body docker 28 sends for run -i --rm -p 8080:80 -l a=b (every field, most of them zero)', () => {
  const body = JSON.parse(readFileSync(join(installRoot(), 'test', 'fixtures', 'docker', 'run-i-rm-p-l.json'), 'utf8')) as unknown;
  assert.deepEqual(checked(CreateInstanceRequest, createRequest(body, undefined)), {
    image: 'hello', autoRemove: true, labels: { a: 'b' }, ports: [{ guestPort: 80, proto: 'tcp', hostPort: 8080 }], expose: [{ guestPort: 80, proto: 'tcp' }],
  });
});
