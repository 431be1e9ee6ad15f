import assert from 'node:assert/strict';
import test from 'node:test';
import { UNIKRAFT_CRASH_CODE, unikraft } from '../../src/families/unikraft.js';
import { exitStatusOf } from '../../src/families/exit.js';
import { runCases, userNet } from './family-helpers.js';

const EXIT = ['-device', 'isa-debug-exit,iobase=0x501,iosize=0x02'];
const img = { kernelPath: '/i/kernel', args: ['-c', '/etc/nginx.conf'] };

runCases(unikraft, [
  {
    name: 'defaults: pc with SeaBIOS (never qboot), args without "--", isa-debug-exit at 0x501',
    image: img,
    spec: { machine: 'pc', firmware: 'seabios', powerdown: 'none', debugExit: true, debugExitPort: 0x501 },
    argv: ['-M', 'pc', '-kernel', '/i/kernel', '-append', '-c /etc/nginx.conf', ...EXIT],
  },
  {
    name: 'args are shell-quoted (uk_argnparse)',
    image: img,
    instance: { args: ['hello world', "it's", 'x'] },
    argv: ['-M', 'pc', '-kernel', '/i/kernel', '-append', `'hello world' 'it'"'"'s' x`, ...EXIT],
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
      '-M', 'pc', '-kernel', '/i/kernel',
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
    argv: ['-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=off,pit=off,pic=off,acpi=off,pcie=off', '-kernel', '/i/kernel', '-append', '-c /etc/nginx.conf', ...EXIT],
  },
  { name: 'refuses block volumes', image: img, instance: { volumes: [{ kind: 'block', source: '/v', target: '/d', readonly: false }] }, throws: /block volumes/ },
  { name: 'refuses "--" in args without parameters', image: img, instance: { args: ['a', '--', 'b'] }, throws: /"--"/ },
  { name: 'refuses an empty argument', image: img, instance: { args: ['a', ''] }, throws: /empty argument/ },
  { name: 'refuses a list element ending in "]"', image: img, instance: { env: ['X=a]'] }, throws: /cannot end in/ },
  { name: 'refuses a static network after a DHCP one', image: img, instance: { networks: [userNet(), userNet({ ip: '10.0.0.2', prefix: 8 })] }, throws: /cannot follow a DHCP/ },
  { name: 'refuses an image without a kernel', image: { kernelPath: undefined }, throws: /needs a kernel/ },
], test);

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
