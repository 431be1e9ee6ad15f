import assert from 'node:assert/strict';
import test from 'node:test';
import { exitStatusOf } from '../../src/families/exit.js';
import { SOLO5_EXIT_NOTE, solo5 } from '../../src/families/solo5.js';
import { parseSolo5DevicesLabel, solo5DevicesLabel, solo5ManifestDevices } from '../../src/families/solo5-manifest.js';
import { runCases, userNet } from './family-helpers.js';

const EXIT = ['-device', 'isa-debug-exit,iobase=0x501,iosize=0x02'];
const NET = ['-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net0,romfile='];
const img = { kernelPath: '/i/unikernel.virtio' };
const net = { networks: [userNet({ ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'] })] };

runCases(solo5, [
  {
    name: 'no devices: pc with qboot, args as they are, exit device at 0x501',
    image: { ...img, labels: { 'org.cunik.solo5.devices': '' } },
    instance: { ...net, args: ['--solo5:quiet', 'Hello_Solo5'] },
    spec: { machine: 'pc', powerdown: 'none', debugExit: true, debugExitPort: 0x501 },
    argv: ['-M', 'pc', '-bios', '/usr/share/qemu/qboot.rom', '-kernel', '/i/unikernel.virtio', '-append', '--solo5:quiet Hello_Solo5', ...EXIT],
  },
  {
    name: 'a declared net device: one NIC on legacy PCI, SeaBIOS, Mirage --ipv4 args before the app args',
    image: { ...img, labels: { 'org.cunik.solo5.devices': 'net:service' }, args: ['--hello=world'] },
    instance: { networks: [...net.networks, userNet()] },
    spec: { firmware: 'seabios' },
    argv: ['-M', 'pc', '-kernel', '/i/unikernel.virtio', '-append', '--ipv4=10.0.2.15/24 --ipv4-gateway=10.0.2.2 --hello=world', ...NET, ...EXIT],
  },
  {
    name: 'no label: NIC attached and --ipv4 given',
    image: img,
    instance: net,
    argv: ['-M', 'pc', '-kernel', '/i/unikernel.virtio', '-append', '--ipv4=10.0.2.15/24 --ipv4-gateway=10.0.2.2', ...NET, ...EXIT],
  },
  {
    name: 'ipv4-args=off (not a Mirage unikernel): NIC only',
    image: { ...img, labels: { 'org.cunik.solo5.ipv4-args': 'off' }, args: ['verbose'] },
    instance: net,
    spec: { cmdline: 'verbose' },
  },
  {
    name: 'a block volume: virtio-blk-pci with SeaBIOS',
    image: { ...img, labels: { 'org.cunik.solo5.devices': 'block:storage' } },
    instance: { ...net, volumes: [{ kind: 'block', source: '/v/disk.img', target: '/unused', readonly: false }] },
    argv: [
      '-M', 'pc', '-kernel', '/i/unikernel.virtio',
      '-drive', 'if=none,id=disk0,file=/v/disk.img,format=raw,readonly=off', '-device', 'virtio-blk-pci,drive=disk0,serial=vol0',
      ...EXIT,
    ],
  },
  { name: 'refuses args with blanks', image: img, instance: { args: ['a b'] }, throws: /splits its command line/ },
  { name: 'refuses env', image: img, instance: { env: ['A=1'] }, throws: /no environment/ },
  { name: 'refuses shared folders', image: img, instance: { volumes: [{ kind: 'share', source: '/s', target: '/s', readonly: true }] }, throws: /cannot be shared/ },
  { name: 'refuses two block volumes', image: img, instance: { volumes: [1, 2].map((i) => ({ kind: 'block' as const, source: `/v${i}`, target: `/d${i}`, readonly: false })) }, throws: /single block/ },
  { name: 'refuses a block volume the unikernel does not declare', image: { ...img, labels: { 'org.cunik.solo5.devices': 'net:service' } }, instance: { volumes: [{ kind: 'block', source: '/v', target: '/d', readonly: false }] }, throws: /declares no block/ },
], test);

test('solo5: every exit is "code unknown"', () => {
  for (const status of [83, 0, 1]) {
    assert.deepEqual(exitStatusOf(solo5, { status, signal: null }), { code: 0, known: false, note: SOLO5_EXIT_NOTE });
  }
  assert.deepEqual(exitStatusOf(solo5, { status: null, signal: 'SIGKILL' }).code, 137);
});

/** A minimal ELF64 with one PT_NOTE segment holding a Solo5 MFT1 manifest (include/mft_abi.h). */
function solo5Elf(devices: Array<[string, number]>): Buffer {
  const entries: Array<[string, number]> = [['', 1 << 30], ...devices];
  const descsz = 4 + 8 + 104 * entries.length;
  const noteOff = 64 + 56;
  const buf = Buffer.alloc(noteOff + 20 + descsz);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // little-endian
  buf.writeBigUInt64LE(64n, 32); // e_phoff
  buf.writeUInt16LE(56, 54); // e_phentsize
  buf.writeUInt16LE(1, 56); // e_phnum
  buf.writeUInt32LE(4, 64); // PT_NOTE
  buf.writeBigUInt64LE(BigInt(noteOff), 64 + 8);
  buf.writeBigUInt64LE(BigInt(20 + descsz), 64 + 32);
  buf.writeUInt32LE(6, noteOff);
  buf.writeUInt32LE(descsz, noteOff + 4);
  buf.writeUInt32LE(0x3154464d, noteOff + 8);
  buf.write('Solo5', noteOff + 12, 'latin1');
  const mft = noteOff + 24;
  buf.writeUInt32LE(1, mft);
  buf.writeUInt32LE(entries.length, mft + 4);
  entries.forEach(([name, type], i) => {
    buf.write(name, mft + 8 + i * 104, 'latin1');
    buf.writeUInt32LE(type, mft + 8 + i * 104 + 68);
  });
  return buf;
}

test('solo5 manifest: devices from the MFT1 note, and the label round trip', () => {
  const devices = solo5ManifestDevices(solo5Elf([['service', 2], ['storage', 1]]));
  assert.deepEqual(devices, [{ name: 'service', type: 'net' }, { name: 'storage', type: 'block' }]);
  assert.equal(solo5DevicesLabel(devices!), 'net:service,block:storage');
  assert.deepEqual(parseSolo5DevicesLabel('net:service,block:storage'), devices);
  assert.deepEqual(solo5ManifestDevices(solo5Elf([])), []);
  assert.deepEqual(parseSolo5DevicesLabel(''), []);
  assert.equal(parseSolo5DevicesLabel(undefined), undefined);
  assert.equal(solo5ManifestDevices(Buffer.from('not an elf')), undefined);
  const other = solo5Elf([['x', 2]]);
  other.writeUInt32LE(0x12345678, 64 + 56 + 8); // another note type
  assert.equal(solo5ManifestDevices(other), undefined);
});
