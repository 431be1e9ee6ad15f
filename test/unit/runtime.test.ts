// cunik-runc's pure parts: runc's argv as containerd passes it, the bundle's config.json, the
// family's exit table for cunik-shim, the pod interface the VM takes over, and QEMU's argv for a
// task (console on stdio, vCPUs stopped until start).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { familyAdapter } from '../../src/families/index.js';
import { parseRuntimeSpec, taskArgsEnv } from '../../src/runtime/bundle.js';
import { cgroupPath, expandSlice, hierarchies, limitFiles, ownCgroups } from '../../src/runtime/cgroup.js';
import { exitCodeTable } from '../../src/runtime/exit-codes.js';
import { parseSignal } from '../../src/runtime/lifecycle.js';
import { parseInvocation } from '../../src/runtime/main.js';
import { nameservers, podInterface, tapCommands, tapName } from '../../src/runtime/netns.js';
import { checkId } from '../../src/runtime/state.js';
import { qemuArgv } from '../../src/vmm/qemu/argv.js';

test('runc argv as containerd passes it', () => {
  const cases: [string[], ReturnType<typeof parseInvocation>][] = [
    [
      ['--root', '/run/containerd/runc/k8s.io', '--log', '/b/log.json', '--log-format', 'json', '--systemd-cgroup', 'create', '--bundle', '/b', '--pid-file', '/b/init.pid', 'abc'],
      { global: { '--root': '/run/containerd/runc/k8s.io', '--log': '/b/log.json', '--log-format': 'json', '--systemd-cgroup': true }, command: 'create', flags: { '--bundle': '/b', '--pid-file': '/b/init.pid' }, positional: ['abc'] },
    ],
    [['--root=/r', 'kill', '--all', 'abc', '9'], { global: { '--root': '/r' }, command: 'kill', flags: { '--all': true }, positional: ['abc', '9'] }],
    [['delete', '--force', 'abc'], { global: {}, command: 'delete', flags: { '--force': true }, positional: ['abc'] }],
    [['ps', '--format', 'json', 'abc'], { global: {}, command: 'ps', flags: { '--format': 'json' }, positional: ['abc'] }],
    [['create', '--no-pivot', '--console-socket', '/s.sock', '-b', '/b', 'x'], { global: {}, command: 'create', flags: { '--no-pivot': true, '--console-socket': '/s.sock', '-b': '/b' }, positional: ['x'] }],
    [['--version'], { global: { '--version': true }, command: undefined, flags: {}, positional: [] }],
  ];
  for (const [argv, want] of cases) assert.deepEqual(parseInvocation(argv), want, argv.join(' '));
});

test('config.json: args, env, rootfs, network namespace, resources; bad input in one line', () => {
  const spec = parseRuntimeSpec(JSON.stringify({
    process: { args: ['exit=3'], env: ['PATH=/usr/bin', 'A=1'], terminal: false },
    root: { path: 'rootfs' },
    annotations: { 'io.kubernetes.cri.container-type': 'container', n: 1 },
    linux: { namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/cni-1' }], resources: { memory: { limit: 268435456 }, cpu: { quota: 150000, period: 100000 } } },
  }), '/b');
  assert.deepEqual(spec, { args: ['exit=3'], env: ['PATH=/usr/bin', 'A=1'], terminal: false, rootfs: '/b/rootfs', annotations: { 'io.kubernetes.cri.container-type': 'container' }, netns: '/var/run/netns/cni-1', memoryMiB: 224, memoryLimit: 268435456, cpus: 2, cpuQuota: { quota: 150000, period: 100000 } });
  assert.throws(() => parseRuntimeSpec(JSON.stringify({ linux: { resources: { memory: { limit: 40 * 1048576 } } } }), '/b'), /leaves no room for a VM: it needs at least 48 MiB/);
  assert.equal(parseRuntimeSpec(JSON.stringify({ linux: { cgroupsPath: '/k/x' } }), '/b').cgroupsPath, '/k/x');
  assert.throws(() => parseRuntimeSpec(JSON.stringify({ linux: { cgroupsPath: 3 } }), '/b'), /cgroupsPath must be a string/);
  assert.equal(parseRuntimeSpec(JSON.stringify({ linux: { namespaces: [{ type: 'network' }] } }), '/b').netns, 'new');
  assert.equal(parseRuntimeSpec('{}', '/b').netns, undefined);
  assert.throws(() => parseRuntimeSpec('{', '/b'), /^CunikError: config.json of bundle \/b is not valid JSON/);
  assert.throws(() => parseRuntimeSpec(JSON.stringify({ process: { args: [1] } }), '/b'), /process.args must be an array of strings/);
  assert.throws(() => parseRuntimeSpec(JSON.stringify({ linux: { namespaces: [{ type: 'network', path: 'rel' }] } }), '/b'), /must be absolute/);
  const boot = { family: 'generic', boot: 'multiboot', args: ['a'], env: ['X=1'], memoryMiB: 64, cpus: 1, labels: {} };
  assert.deepEqual(taskArgsEnv({ ...spec, args: ['a'], env: ['PATH=/x', 'X=1', 'Y=2'] }, boot), { args: [], env: ['Y=2'] });
  assert.deepEqual(taskArgsEnv({ ...spec, args: ['exit=3'], env: [] }, boot), { args: ['exit=3'], env: [] });
});

test('exit table: the family mapping cunik-shim applies', () => {
  const hex = exitCodeTable(familyAdapter('generic'));
  assert.equal(hex.length, 642);
  const code = (i: number): number => parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  assert.equal(code(7), 3, 'isa-debug-exit: status 7 is the guest\'s 3');
  assert.equal(code(1), 0);
  assert.equal(code(0), 0);
  assert.equal(code(256 + 9), 137, 'SIGKILL');
  assert.equal(code(256 + 15), 143, 'SIGTERM');
});

test('the pod interface the VM takes over, and the tap joined to it', () => {
  const addr = JSON.stringify([
    { ifname: 'lo', link_type: 'loopback', address: '00:00:00:00:00:00', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
    { ifname: 'eth0', link_type: 'ether', address: '02:42:0a:00:00:05', mtu: 1450, addr_info: [{ family: 'inet', local: '10.0.0.5', prefixlen: 24, scope: 'global' }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }] },
  ]);
  const route = JSON.stringify([{ dst: 'default', gateway: '10.0.0.1', dev: 'eth0' }]);
  const pod = podInterface(addr, route);
  assert.deepEqual(pod, { ifname: 'eth0', mac: '02:42:0a:00:00:05', mtu: 1450, ip: '10.0.0.5', prefix: 24, gateway: '10.0.0.1' });
  assert.equal(podInterface(addr, route, ['eth0']), undefined);
  assert.match(tapName('abc'), /^cunik[0-9a-f]{8}$/);
  assert.ok(tapName('abc').length <= 15);
  const cmds = tapCommands(pod!, 'cunik01234567');
  assert.deepEqual(cmds.ip, ['tuntap add dev cunik01234567 mode tap', 'link set dev cunik01234567 mtu 1450', 'link set dev cunik01234567 up']);
  assert.equal(cmds.tc.filter((l) => l.includes('mirred egress redirect')).length, 2);
  assert.deepEqual(nameservers('search x\nnameserver 10.96.0.10\nnameserver fe80::1\n'), ['10.96.0.10']);
});

test('signals and ids as runc takes them', () => {
  assert.deepEqual(['SIGTERM', 'TERM', '15', 'kill', '9'].map(parseSignal), ['SIGTERM', 'SIGTERM', 'SIGTERM', 'SIGKILL', 'SIGKILL']);
  assert.throws(() => parseSignal('NOPE'), /unknown signal "NOPE"/);
  assert.equal(checkId('a.b-c_d+1'), 'a.b-c_d+1');
  for (const bad of ['', '..', 'a/b', 'a b']) assert.throws(() => checkId(bad), /container id/);
});

test('QEMU for a task: the console on stdio, the vCPUs stopped until start', () => {
  const spec = { machine: 'microvm' as const, kernel: '/k', cmdline: '', disks: [], memoryMiB: 64, cpus: 1, powerdown: 'none' as const, debugExit: true };
  const paths = { dir: '/s/x', pidfile: '/s/x/qemu.pid', qmpSocket: '/s/x/qmp.sock', consoleLog: '/s/x/c.log', consoleSocket: '/s/x/c.sock' };
  const argv = qemuArgv(spec, paths, 'tcg', { console: 'stdio', paused: true });
  assert.equal(argv[argv.indexOf('-chardev') + 1], 'stdio,id=con0,signal=off');
  assert.ok(argv.includes('-S'));
  assert.ok(!argv.join(' ').includes('c.log'));
  const daemon = qemuArgv(spec, paths, 'tcg');
  assert.ok(!daemon.includes('-S'));
  assert.match(daemon[daemon.indexOf('-chardev') + 1]!, /^socket,id=con0,/);
});

test('cgroups: linux.cgroupsPath in cgroupfs and systemd form, the hierarchies, the limit files', () => {
  const cases: [string | undefined, boolean, string][] = [
    ['/kubepods/burstable/pod1/abc', false, 'kubepods/burstable/pod1/abc'],
    ['rel/x', false, 'own/cg/rel/x'],
    [undefined, false, 'own/cg/id1'],
    ['kubepods-burstable-pod1.slice:cri-containerd:abc', true, 'kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope'],
    ['system.slice::abc', true, 'system.slice/abc.scope'],
    ['-.slice:p:abc', true, 'p-abc.scope'],
    ['machine.slice:p:sub.slice', true, 'machine.slice/sub.slice'],
    [undefined, true, 'system.slice/cunik-id1.scope'],
  ];
  for (const [raw, systemd, want] of cases) assert.equal(cgroupPath(raw, systemd, 'id1', '/own/cg'), want, String(raw));
  assert.throws(() => cgroupPath('/a/../../etc', false, 'id1', '/'), /'\.\.' is not allowed/);
  assert.throws(() => cgroupPath('/a/b', true, 'id1', '/'), /format "slice:prefix:name"/);
  assert.throws(() => cgroupPath('a.slice:p:x', false, 'id1', '/'), /pass --systemd-cgroup/);
  assert.throws(() => expandSlice('a--b.slice'), /invalid slice name/);
  assert.throws(() => cgroupPath('nota:p:x', true, 'id1', '/'), /invalid slice name/);
  assert.deepEqual(hierarchies('cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\nproc /proc proc rw 0 0\n'), [{ mount: '/sys/fs/cgroup', v2: true, controllers: [] }]);
  assert.deepEqual(hierarchies('cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\ncgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0\n'), [
    { mount: '/sys/fs/cgroup/cpu,cpuacct', v2: false, controllers: ['cpu', 'cpuacct'] },
    { mount: '/sys/fs/cgroup/systemd', v2: false, controllers: ['name=systemd'] },
  ]);
  assert.deepEqual([...ownCgroups('4:memory:/process_api/x\n1:cpu,cpuacct:/\n0::/u\n')], [['memory', '/process_api/x'], ['cpu,cpuacct', '/'], ['', '/u']]);
  const limits = { memoryBytes: 134217728, cpu: { quota: 50000, period: 100000 } };
  assert.deepEqual(limitFiles(true, limits), [['memory.max', '134217728'], ['cpu.max', '50000 100000']]);
  assert.deepEqual(limitFiles(false, limits), [['memory.limit_in_bytes', '134217728'], ['cpu.cfs_period_us', '100000'], ['cpu.cfs_quota_us', '50000']]);
  assert.deepEqual(limitFiles(true, {}), []);
});
