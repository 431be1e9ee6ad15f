import assert from 'node:assert/strict';
import test from 'node:test';
import { exitStatusOf } from '../../src/families/exit.js';
import { INCLUDEOS_EXIT_NOTE, includeos } from '../../src/families/includeos.js';
import { runCases, userNet } from './family-helpers.js';

runCases(includeos, [
  {
    name: '64-bit service through the chainloader: service as a module with the args',
    image: { kernelPath: '/i/chainloader', initrdPath: '/i/service.elf', args: ['--port', '80'] },
    instance: { networks: [userNet({ ip: '10.0.2.15', prefix: 24 })] },
    spec: { machine: 'pc', cmdline: '', powerdown: 'none', debugExit: false, firmware: 'seabios', modules: [{ path: '/i/service.elf', name: 'app', cmdline: '--port 80' }] },
    argv: [
      '-M', 'pc', '-kernel', '/i/chainloader', '-initrd', 'app --port 80',
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net0,romfile=',
    ],
  },
  {
    name: '32-bit service booted directly, block volume as a disk',
    image: { kernelPath: '/i/service' },
    instance: { args: ['a', 'b'], volumes: [{ kind: 'block', source: '/v/fat.img', target: '/disk', readonly: true }] },
    argv: [
      '-M', 'pc', '-kernel', 'app', '-append', 'a b',
      '-drive', 'if=none,id=disk0,file=/v/fat.img,format=raw,readonly=on', '-device', 'virtio-blk-pci,drive=disk0,serial=vol0',
    ],
  },
  {
    name: 'no args, no devices: qboot (no PCI BARs to assign)',
    image: { kernelPath: '/i/chainloader', initrdPath: '/i/service.elf' },
    spec: { firmware: undefined },
    argv: ['-M', 'pc', '-bios', '/usr/share/qemu/qboot.rom', '-kernel', '/i/chainloader', '-initrd', 'app'],
  },
  { name: 'refuses args with blanks', image: { kernelPath: '/i/s' }, instance: { args: ['a b'] }, throws: /whitespace/ },
  { name: 'refuses commas in a module command line', image: { kernelPath: '/i/c', initrdPath: '/i/s' }, instance: { args: ['a,b'] }, throws: /comma/ },
  { name: 'refuses env', image: { kernelPath: '/i/s' }, instance: { env: ['A=1'] }, throws: /no environment/ },
], test);

test('includeos: exit code unknown', () => {
  assert.deepEqual(exitStatusOf(includeos, { status: 0, signal: null }), { code: 0, known: false, note: INCLUDEOS_EXIT_NOTE });
});
