import assert from 'node:assert/strict';
import test from 'node:test';
import { exitStatusOf } from '../../src/families/exit.js';
import { RUMPRUN_EXIT_NOTE, rumprun, rumprunWord } from '../../src/families/rumprun.js';
import { runCases, userNet } from './family-helpers.js';

const img = { kernelPath: '/i/nginx.bin', args: ['-c', '/data/conf/nginx.conf'] };

runCases(rumprun, [
  {
    name: 'JSON config on the command line: cmdline with argv[0] = the kernel path, no exit device',
    image: img,
    spec: { machine: 'pc', powerdown: 'none', debugExit: false },
    argv: ['-M', 'pc', '-bios', '/usr/share/qemu/qboot.rom', '-kernel', '/i/nginx.bin', '-append', '{"cmdline": "/i/nginx.bin -c /data/conf/nginx.conf"}'],
  },
  {
    name: 'env keys, static and DHCP nets, a block volume, quoted words; SeaBIOS with devices',
    image: { ...img, env: ['A=1'] },
    instance: {
      env: ['B=x y'],
      args: ['say hi', 'q"uote', 'back\\slash'],
      networks: [userNet({ ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2' }), userNet()],
      volumes: [{ kind: 'block', source: '/v/data.ffs', target: '/data', readonly: false }],
    },
    spec: { firmware: 'seabios' },
    argv: [
      '-M', 'pc', '-kernel', '/i/nginx.bin',
      '-append', '{"env": "A=1", "env": "B=x y", '
        + '"net": {"if": "vioif0", "type": "inet", "method": "static", "addr": "10.0.2.15", "mask": "24", "gw": "10.0.2.2"}, '
        + '"net": {"if": "vioif1", "type": "inet", "method": "dhcp"}, '
        + '"blk": {"source": "dev", "path": "/dev/ld0a", "fstype": "blk", "mountpoint": "/data"}, '
        + `"cmdline": "/i/nginx.bin 'say hi' q\\"uote back\\\\slash"}`,
      '-drive', 'if=none,id=disk0,file=/v/data.ffs,format=raw,readonly=off', '-device', 'virtio-blk-pci,drive=disk0,serial=vol0',
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net0,romfile=',
      '-netdev', 'user,id=net1,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net1,romfile=',
    ],
  },
  { name: 'refuses a single quote', image: img, instance: { args: ["it's"] }, throws: /single quote/ },
  { name: 'refuses a quote in env', image: img, instance: { env: ['A="x"'] }, throws: /cannot carry quotes/ },
  { name: 'refuses shared folders', image: img, instance: { volumes: [{ kind: 'share', source: '/s', target: '/s', readonly: true }] }, throws: /cannot be shared/ },
], test);

test('rumprun: words and exit', () => {
  assert.equal(rumprunWord(''), "''");
  assert.equal(rumprunWord('a\\"b c'), "'a\\\\\\\"b c'");
  assert.deepEqual(exitStatusOf(rumprun, { status: 0, signal: null }), { code: 0, known: false, note: RUMPRUN_EXIT_NOTE });
});
