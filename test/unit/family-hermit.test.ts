import assert from 'node:assert/strict';
import test from 'node:test';
import { exitStatusOf } from '../../src/families/exit.js';
import { hermit } from '../../src/families/hermit.js';
import { runCases, userNet } from './family-helpers.js';

const EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'];
const img = { kernelPath: '/i/hermit-loader', initrdPath: '/i/app' };

runCases(hermit, [
  {
    name: 'loader as kernel, app as module, exit device at 0xf4',
    image: img,
    spec: { machine: 'pc', powerdown: 'none', debugExit: true, modules: [{ path: '/i/app' }] },
    argv: ['-M', 'pc', '-bios', '/usr/share/qemu/qboot.rom', '-kernel', 'app', '-initrd', '/i/app', ...EXIT],
  },
  {
    name: '-freq from the TSC, -ip/-mask/-gateway, env=, args after "--" (shell-quoted)',
    image: { ...img, env: ['RUST_LOG=info'] },
    instance: { tscKhz: 2000000, args: ['hello world', 'x'], networks: [userNet({ ip: '10.0.5.3', prefix: 24, gateway: '10.0.5.1' })] },
    spec: { firmware: 'seabios' },
    argv: [
      '-M', 'pc', '-kernel', 'app', '-initrd', '/i/app',
      '-append', "-freq 2000 -ip 10.0.5.3 -mask 255.255.255.0 -gateway 10.0.5.1 env=RUST_LOG=info -- 'hello world' x",
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net0,romfile=',
      ...EXIT,
    ],
  },
  { name: 'refuses an image without the app', image: { kernelPath: '/i/hermit-loader' }, throws: /app as initrd/ },
  { name: 'refuses volumes', image: img, instance: { volumes: [{ kind: 'share', source: '/s', target: '/s', readonly: true }] }, throws: /not supported/ },
], test);

test('hermit: 3 is success, 1 a failure without its code', () => {
  assert.deepEqual(exitStatusOf(hermit, { status: 3, signal: null }), { code: 0, known: true });
  assert.deepEqual([exitStatusOf(hermit, { status: 1, signal: null }).code, exitStatusOf(hermit, { status: 1, signal: null }).known], [1, false]);
  assert.equal(exitStatusOf(hermit, { status: 0, signal: null }).known, false);
  assert.equal(hermit.exitCode({ status: null, signal: 'SIGTERM' }), 143);
});
