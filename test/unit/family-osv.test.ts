import assert from 'node:assert/strict';
import test from 'node:test';
import { exitStatusOf } from '../../src/families/exit.js';
import { OSV_EXIT_NOTE, osv, osvQuote } from '../../src/families/osv.js';
import { DIR, runCases, userNet } from './family-helpers.js';

const OVERLAY = `file=${DIR}/disk.qcow2,format=qcow2,readonly=off`;
const img = { boot: 'pvh', kernelPath: `${DIR}/kernel`, diskPath: `${DIR}/disk`, args: ['/hello'] };

runCases(osv, [
  {
    name: 'loader + disk: PVH direct boot on pc, qcow2 overlay backed by the qcow2 image, no exit device',
    image: img,
    spec: {
      machine: 'pc', powerdown: 'acpi', debugExit: false,
      disks: [{ path: 'disk.qcow2', format: 'qcow2', readonly: false, overlay: { backing: `${DIR}/disk`, backingFormat: 'qcow2' } }],
    },
    argv: ['-M', 'pc', '-kernel', `${DIR}/kernel`, '-append', '/hello', '-drive', `if=none,id=disk0,${OVERLAY}`, '-device', 'virtio-blk-pci,drive=disk0'],
  },
  {
    name: 'rootfs label, static IP, env, block volume, quoted app words',
    image: { ...img, labels: { 'org.cunik.osv.rootfs': 'rofs' }, env: ['A=1'] },
    instance: {
      env: ['B=two words'],
      args: ['/app.so', 'a b', 'x;y', 'say "hi"'],
      networks: [userNet({ ip: '192.168.122.15', prefix: 24, gateway: '192.168.122.1', dns: ['192.168.122.1'] })],
      volumes: [{ kind: 'block', source: '/v/data.ext4', target: '/data', readonly: false }],
    },
    argv: [
      '-M', 'pc', '-kernel', `${DIR}/kernel`,
      '-append', '--rootfs=rofs --ip=eth0,192.168.122.15,255.255.255.0 --defaultgw=192.168.122.1 --nameserver=192.168.122.1 --mount-fs=ext,/dev/vblk1,/data --env=A=1 --env=B=two\\ words /app.so "a b" "x;y" "say \\"hi\\""',
      '-drive', `if=none,id=disk0,${OVERLAY}`, '-device', 'virtio-blk-pci,drive=disk0',
      '-drive', 'if=none,id=disk1,file=/v/data.ext4,format=raw,readonly=off', '-device', 'virtio-blk-pci,drive=disk1,serial=vol0',
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net0,romfile=',
    ],
  },
  {
    name: 'disk only: BIOS boot from the overlay, raw disk by label',
    image: { ...img, boot: 'disk', kernelPath: `${DIR}/kernel`, labels: { 'org.cunik.disk-format': 'raw' } },
    argv: ['-M', 'pc', '-drive', `if=none,id=disk0,file=${DIR}/disk.qcow2,format=qcow2,readonly=off`, '-device', 'virtio-blk-pci,drive=disk0,bootindex=0'],
  },
  {
    name: 'microvm (label, needs KVM): --nopci, force-legacy=off, virtio-mmio disk, no power button',
    image: { ...img, labels: { 'org.cunik.machine': 'microvm' } },
    spec: { powerdown: 'none', globals: ['virtio-mmio.force-legacy=off'] },
    argv: [
      '-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=off,pit=off,pic=off,acpi=off,pcie=off', '-global', 'virtio-mmio.force-legacy=off',
      '-kernel', `${DIR}/kernel`, '-append', '--nopci /hello', '-drive', `if=none,id=disk0,${OVERLAY}`, '-device', 'virtio-blk-device,drive=disk0',
    ],
  },
  { name: 'refuses a command starting with "-"', image: img, instance: { args: ['-x'] }, throws: /cannot start with "-"/ },
  { name: 'refuses args when booting from the disk', image: { ...img, boot: 'disk' }, instance: { args: ['/x'] }, throws: /add the loader/ },
  { name: 'refuses a backslash in an option', image: img, instance: { env: ['A=a\\b'] }, throws: /backslash/ },
  { name: 'refuses shared folders', image: img, instance: { volumes: [{ kind: 'share', source: '/s', target: '/s', readonly: true }] }, throws: /cannot be shared/ },
], test);

test('osv: quoting of app words and exit statuses', () => {
  assert.equal(osvQuote('plain'), 'plain');
  assert.equal(osvQuote(''), '""');
  assert.equal(osvQuote('a\\b'), '"a\\\\b"');
  assert.equal(osvQuote('x&'), '"x&"');
  assert.deepEqual(exitStatusOf(osv, { status: 0, signal: null }), { code: 0, known: false, note: OSV_EXIT_NOTE });
});
