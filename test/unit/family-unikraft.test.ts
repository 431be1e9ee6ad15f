import assert from 'node:assert/strict';
import test from 'node:test';
import { UNIKRAFT_CRASH_CODE, UNIKRAFT_RNG_KVM_ONLY, unikraft } from '../../src/families/unikraft.js';
import { qemuArgv } from '../../src/vmm/qemu/argv.js';
import { exitStatusOf } from '../../src/families/exit.js';
import { paths, runCases, userNet } from './family-helpers.js';

const EXIT = ['-device', 'isa-debug-exit,iobase=0x501,iosize=0x02'];
const img = { kernelPath: '/i/kernel', args: ['-c', '/etc/nginx.conf'] };

runCases(unikraft, [
  {
    name: 'defaults: pc with SeaBIOS (never qboot), args without "--", isa-debug-exit at 0x501',
    image: img,
    spec: { machine: 'pc', firmware: 'seabios', powerdown: 'none', debugExit: true, debugExitPort: 0x501 },
    argv: ['-M', 'pc', '-kernel', 'app', '-append', '-c /etc/nginx.conf', ...EXIT],
  },
  {
    name: 'args are shell-quoted (uk_argnparse)',
    image: img,
    instance: { args: ['hello world', "it's", 'x'] },
    argv: ['-M', 'pc', '-kernel', 'app', '-append', `'hello world' 'it'"'"'s' x`, ...EXIT],
  },
  {
    name: 'env.vars list, then "--" and the args',
    image: { ...img, env: ['A=1'] },
    instance: { env: ['B=two words'] },
    spec: { cmdline: `env.vars=[ A=1 'B=two words' ] -- -c /etc/nginx.conf` },
  },
  {
    name: 'netdev.ip per static network, 9p share with vfs.fstab, NICs',
    image: img,
    instance: {
      networks: [userNet({ ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns: ['10.0.2.3', '1.1.1.1', '8.8.8.8'] }), userNet({ ip: '172.17.0.5', prefix: 16 })],
      volumes: [{ kind: 'share', source: '/srv/www', target: '/var/www', readonly: true }],
      args: ['--', 'x'],
    },
    argv: [
      '-M', 'pc', '-kernel', 'app',
      '-append', 'netdev.ip=10.0.2.15/24:10.0.2.2:10.0.2.3:1.1.1.1 netdev.ip=172.17.0.5/16 vfs.fstab=[ vol0:/var/www:9pfs ] -- -- x',
      '-fsdev', 'local,id=fs0,path=/srv/www,security_model=mapped-xattr,multidevs=remap,readonly=on', '-device', 'virtio-9p-pci,fsdev=fs0,mount_tag=vol0',
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net0,romfile=',
      '-netdev', 'user,id=net1,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net1,romfile=',
      ...EXIT,
    ],
  },
  {
    name: 'a DHCP network (no ip): no netdev.ip, no "--"',
    image: img,
    instance: { networks: [userNet()] },
    spec: { cmdline: '-c /etc/nginx.conf' },
  },
  {
    name: 'microvm when the image says so (no firmware choice there)',
    image: { ...img, labels: { 'org.cunik.machine': 'microvm' } },
    argv: ['-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=off,pit=off,pic=off,acpi=off,pcie=off', '-kernel', 'app', '-append', '-c /etc/nginx.conf', ...EXIT],
  },
  { name: 'refuses block volumes', image: img, instance: { volumes: [{ kind: 'block', source: '/v', target: '/d', readonly: false }] }, throws: /block volumes/ },
  { name: 'refuses "--" in args without parameters', image: img, instance: { args: ['a', '--', 'b'] }, throws: /"--"/ },
  { name: 'refuses an empty argument', image: img, instance: { args: ['a', ''] }, throws: /empty argument/ },
  { name: 'refuses a list element ending in "]"', image: img, instance: { env: ['X=a]'] }, throws: /cannot end in/ },
  { name: 'refuses a static network after a DHCP one', image: img, instance: { networks: [userNet(), userNet({ ip: '10.0.0.2', prefix: 8 })] }, throws: /cannot follow a DHCP/ },
  { name: 'refuses an image without a kernel', image: { kernelPath: undefined }, throws: /needs a kernel/ },
], test);

// What the linked libraries (org.cunik.unikraft.libs, from .uk_libinfo) change.
const HELLO = 'libkvmplat,apphelloworld,libnolibc,libukboot,libukdebug,libuklibid'; // 0.16.3 helloworld, qemu-x86_64 defconfig
const FULL = `${HELLO},libuklibparam,libuknetdev,liblwip,libvfscore,lib9pfs,libposix_environ`;
const libs = (list: string) => ({ ...img, labels: { 'org.cunik.unikraft.libs': list } });
const share = { kind: 'share' as const, source: '/srv/www', target: '/var/www', readonly: true };
const dhcpNoPorts = { nic: { backend: { type: 'user' as const } } };
runCases(unikraft, [
  {
    name: 'helloworld without libuknetdev/libuklibparam: no NIC, no netdev.ip, no "--", args as given',
    image: libs(HELLO),
    instance: { networks: [{ ...dhcpNoPorts, ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'] }] },
    spec: { cmdline: '-c /etc/nginx.conf', nics: undefined, kvmOnly: undefined },
    argv: ['-M', 'pc', '-kernel', 'app', '-append', '-c /etc/nginx.conf', ...EXIT],
  },
  { name: 'without libuklibparam "--" is an ordinary arg', image: libs(`${HELLO},libuknetdev`), instance: { args: ['a', '--', 'b'] }, spec: { cmdline: 'a -- b' } },
  { name: 'libuknetdev without libuklibparam: the NIC, DHCP (no netdev.ip)', image: libs(`${HELLO},libuknetdev`), instance: { networks: [{ ...dhcpNoPorts, ip: '10.0.2.15', prefix: 24 }] }, spec: { cmdline: '-c /etc/nginx.conf', nics: [dhcpNoPorts.nic] } },
  {
    name: 'all libraries: NIC, netdev.ip, vfs.fstab, env.vars and "--"',
    image: libs(FULL),
    instance: { env: ['A=1'], networks: [{ ...dhcpNoPorts, ip: '10.0.2.15', prefix: 24 }], volumes: [share] },
    spec: { cmdline: 'netdev.ip=10.0.2.15/24 vfs.fstab=[ vol0:/var/www:9pfs ] env.vars=[ A=1 ] -- -c /etc/nginx.conf', nics: [dhcpNoPorts.nic] },
  },
  { name: 'refuses published ports without libuknetdev', image: libs(HELLO), instance: { networks: [userNet()] }, throws: /no network device library \(libuknetdev\): ports cannot be published/ },
  { name: 'refuses env without libuklibparam', image: libs(`${HELLO},libuknetdev`), instance: { env: ['A=1'] }, throws: /no library-parameter parser \(libuklibparam\): env cannot be passed/ },
  { name: 'refuses an image env without libuklibparam', image: { ...libs(HELLO), env: ['A=1'] }, throws: /libuklibparam/ },
  { name: 'refuses a shared folder without 9pfs', image: libs(`${HELLO},libuklibparam,libvfscore`), instance: { volumes: [share] }, throws: /no 9p file system \(libvfscore, lib9pfs\)/ },
  { name: 'refuses a shared folder without libuklibparam (vfs.fstab)', image: libs(`${HELLO},libvfscore,lib9pfs`), instance: { volumes: [share] }, throws: /libuklibparam.*vfs\.fstab/ },
  { name: 'libukrandom (0.17+): marked KVM-only', image: libs(`${HELLO},libukrandom`), spec: { kvmOnly: UNIKRAFT_RNG_KVM_ONLY } },
], test);

test('unikraft: a libukrandom kernel is refused under TCG with the reason, started under KVM', () => {
  const spec = unikraft.bootSpec({ family: 'unikraft', boot: 'multiboot', kernelPath: '/i/kernel', args: [], env: [], memoryMiB: 64, cpus: 1, labels: { 'org.cunik.unikraft.libs': 'libukboot,libukrandom' } }, { args: [], env: [] });
  assert.throws(() => qemuArgv(spec, paths, 'tcg'), /cannot start under TCG \(software emulation\): .*RDRAND and RDSEED.*boots only with KVM/);
  assert.ok(qemuArgv(spec, paths, 'kvm').includes('kvm'));
});

test('unikraft: exit statuses', () => {
  const cases: Array<[number | null, NodeJS.Signals | null, number, boolean]> = [
    [83, null, 0, false], // normal exit: isa-debug-exit 41
    [0, null, 0, false], // ACPI power-off went through
    [85, null, UNIKRAFT_CRASH_CODE, false], // crash: isa-debug-exit 42
    [7, null, 3, true], // an app that wrote its own code
    [null, 'SIGKILL', 137, true],
  ];
  for (const [status, signal, code, known] of cases) {
    const s = exitStatusOf(unikraft, { status, signal });
    assert.deepEqual([s.code, s.known], [code, known], `status ${status} signal ${signal}`);
    assert.equal(unikraft.exitCode({ status, signal }), code);
  }
  assert.equal(UNIKRAFT_CRASH_CODE, 139);
});
