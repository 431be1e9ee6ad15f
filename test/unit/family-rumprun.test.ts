import assert from 'node:assert/strict';
import test from 'node:test';
import { exitStatusOf } from '../../src/families/exit.js';
import { RUMPRUN_EXIT_NOTE, rumprun, rumprunExitFromConsole, rumprunWord } from '../../src/families/rumprun.js';
import { runCases, userNet } from './family-helpers.js';

const img = { name: 'nginx', kernelPath: '/i/nginx.bin', args: ['-c', '/data/conf/nginx.conf'] };

runCases(rumprun, [
  {
    name: 'JSON config on the command line: cmdline with argv[0] = the image name (not a host path), no exit device, qboot without devices',
    image: img,
    spec: { machine: 'pc', powerdown: 'none', debugExit: false },
    argv: ['-M', 'pc', '-bios', '/usr/share/qemu/qboot.rom', '-kernel', 'nginx', '-append', '{"cmdline": "nginx -c /data/conf/nginx.conf"}'],
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
      '-M', 'pc', '-kernel', 'nginx',
      '-append', '{"env": "A=1", "env": "B=x y", '
        + '"net": {"if": "vioif0", "type": "inet", "method": "static", "addr": "10.0.2.15", "mask": "24", "gw": "10.0.2.2"}, '
        + '"net": {"if": "vioif1", "type": "inet", "method": "dhcp"}, '
        + '"blk": {"source": "dev", "path": "/dev/ld0a", "fstype": "blk", "mountpoint": "/data"}, '
        + `"cmdline": "nginx 'say hi' q\\"uote back\\\\slash"}`,
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
  const s = exitStatusOf(rumprun, { status: 0, signal: null });
  assert.deepEqual([s.code, s.known, s.note], [0, false, RUMPRUN_EXIT_NOTE]);
});

test('rumprun: argv[0] without an image name is "app"', () => {
  const spec = rumprun.bootSpec({ family: 'rumprun', boot: 'multiboot', kernelPath: '/i/k', args: [], env: [], memoryMiB: 64, cpus: 1, labels: {} }, { args: ['x'], env: [] });
  assert.equal(spec.cmdline, '{"cmdline": "app x"}');
});

// Console transcripts: the hw platform's lines (lib/librumprun_base/rumprun.c, syscall_misc.c,
// platform/hw/kernel.c format strings) and what build/kernels/halt.elf prints.
const transcripts: [string, string, number | undefined][] = [
  ['main returns 0', '=== calling "hello" main() ===\n\nHello, Rumprun!\n\n=== main() of "hello" returned 0 ===\n\n=== _exit(0) called ===\nrumprun: halting\nhalted\n', 0],
  ['exit(3)', 'working\n\n=== ERROR: _exit(3) called ===\nhalted\n', 3],
  ['main returned 2 (the _exit line follows and agrees)', '\n=== main() of "app" returned 2 ===\n\n=== ERROR: _exit(2) called ===\n', 2],
  ['a panic', 'panic: kernel diagnostic assertion "x" failed\nPANIC: rumpuser panic\nhalted\n', 255],
  ['the test kernel (halt.elf exit=4)', 'Hello from the Cunik halt kernel\nargv0: hello\n\n=== main() of "app" returned 4 ===\n\n=== ERROR: _exit(4) called ===\nhalted\n', 4],
  ['still running', '=== calling "httpd" main() ===\nlistening on :80\n', undefined],
];

test('rumprun: the exit code from the console, the last exit line winning', () => {
  for (const [name, transcript, want] of transcripts) {
    let got: number | undefined;
    for (const line of transcript.split('\n')) got = rumprunExitFromConsole(line)?.code ?? got;
    assert.equal(got, want, name);
  }
});
