import assert from 'node:assert/strict';
import test from 'node:test';
import { exitStatusOf } from '../../src/families/exit.js';
import { nanos } from '../../src/families/nanos.js';
import { pendingOverlays } from '../../src/vmm/qemu/overlay.js';
import { DIR, image, instance, runCases, userNet } from './family-helpers.js';

const EXIT = ['-device', 'isa-debug-exit,iobase=0x501,iosize=0x02'];
const OVERLAY = `file=${DIR}/disk.qcow2,format=qcow2,readonly=off`;
const img = { boot: 'disk', diskPath: `${DIR}/disk`, kernelPath: `${DIR}/disk` };
const direct = { ...img, boot: 'pvh', kernelPath: `${DIR}/kernel` };

runCases(nanos, [
  {
    name: 'disk image only: boots from a qcow2 overlay through SeaBIOS (no -kernel, no -bios)',
    image: img,
    instance: { networks: [userNet()] },
    spec: {
      machine: 'pc', powerdown: 'acpi', debugExit: true, debugExitPort: 0x501, cmdline: '',
      disks: [{ path: 'disk.qcow2', format: 'qcow2', readonly: false, overlay: { backing: `${DIR}/disk`, backingFormat: 'raw' }, boot: true }],
    },
    argv: [
      '-M', 'pc',
      '-drive', `if=none,id=disk0,${OVERLAY}`, '-device', 'virtio-blk-pci,drive=disk0,bootindex=0',
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net0,romfile=',
      ...EXIT,
    ],
  },
  {
    name: 'with the PVH kernel: direct boot, static IP and env on the command line',
    image: direct,
    instance: { env: ['GREETING=hi'], networks: [userNet({ ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2' })] },
    argv: [
      '-M', 'pc', '-bios', '/usr/share/qemu/qboot.rom', '-kernel', `${DIR}/kernel`,
      '-append', 'ipaddr=10.0.2.15 netmask=255.255.255.0 gateway=10.0.2.2 environment.GREETING=hi',
      '-drive', `if=none,id=disk0,${OVERLAY}`, '-device', 'virtio-blk-pci,drive=disk0',
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net0,romfile=',
      ...EXIT,
    ],
  },
  {
    name: 'microvm: upstream machine options, force-legacy=false, virtio-mmio disk',
    image: { ...direct, labels: { 'org.cunik.machine': 'microvm' } },
    spec: { machineOptions: { acpi: 'on', pit: 'on', pic: 'on', rtc: 'on', ioapic2: 'off' }, globals: ['virtio-mmio.force-legacy=false'] },
    argv: [
      '-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=on,acpi=on,pcie=off,ioapic2=off',
      '-global', 'virtio-mmio.force-legacy=false', '-kernel', `${DIR}/kernel`,
      '-drive', `if=none,id=disk0,${OVERLAY}`, '-device', 'virtio-blk-device,drive=disk0',
      ...EXIT,
    ],
  },
  { name: 'refuses args (they live in the manifest)', image: img, instance: { args: ['x'] }, throws: /manifest/ },
  { name: 'refuses env when booting from the disk', image: img, instance: { env: ['A=1'] }, throws: /env from the image manifest/ },
  { name: 'refuses env values with blanks', image: direct, instance: { env: ['A=a b'] }, throws: /cannot go on its command line/ },
  { name: 'refuses microvm without the kernel', image: { ...img, labels: { 'org.cunik.machine': 'microvm' } }, throws: /needs the PVH kernel/ },
  { name: 'refuses volumes', image: img, instance: { volumes: [{ kind: 'share', source: '/s', target: '/s', readonly: true }] }, throws: /manifest/ },
  { name: 'refuses an image without a disk', image: { diskPath: undefined }, throws: /needs a disk/ },
], test);

test('nanos: overlay creation argv for the instances layer', () => {
  const spec = nanos.bootSpec(image('nanos', img), instance());
  assert.deepEqual(pendingOverlays(spec, DIR), [{
    path: `${DIR}/disk.qcow2`,
    argv: ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', `${DIR}/disk`, `${DIR}/disk.qcow2`],
  }]);
});

test('nanos: exit statuses', () => {
  assert.deepEqual(exitStatusOf(nanos, { status: 1, signal: null }), { code: 0, known: true });
  assert.deepEqual(exitStatusOf(nanos, { status: 7, signal: null }), { code: 3, known: true });
  assert.equal(exitStatusOf(nanos, { status: 0, signal: null }).known, false);
});
