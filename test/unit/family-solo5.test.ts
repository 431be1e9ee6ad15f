import assert from 'node:assert/strict';
import test from 'node:test';
import { exitStatusOf } from '../../src/families/exit.js';
import { SOLO5_EXIT_NOTE, solo5, solo5ExitFromConsole } from '../../src/families/solo5.js';
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
    argv: ['-M', 'pc', '-bios', '/usr/share/qemu/qboot.rom', '-kernel', 'app', '-append', '--solo5:quiet Hello_Solo5', ...EXIT],
  },
  {
    name: 'a declared net device: one NIC in PCI slot 2, SeaBIOS, Mirage --ipv4 args before the app args; a second network is not attached',
    image: { ...img, labels: { 'org.cunik.solo5.devices': 'net:service' }, args: ['--hello=world'] },
    instance: { networks: [...net.networks, userNet()] },
    spec: { firmware: 'seabios' },
    argv: ['-M', 'pc', '-kernel', 'app', '-append', '--ipv4=10.0.2.15/24 --ipv4-gateway=10.0.2.2 --hello=world', NET[0]!, NET[1]!, NET[2]!, `${NET[3]},addr=0x2`, ...EXIT],
  },
  {
    name: 'no label (an image imported before manifests were read): the first NIC, no slot, --ipv4 given',
    image: img,
    instance: net,
    argv: ['-M', 'pc', '-kernel', 'app', '-append', '--ipv4=10.0.2.15/24 --ipv4-gateway=10.0.2.2', ...NET, ...EXIT],
  },
  {
    name: 'ipv4-args=off (not a Mirage unikernel): NIC only',
    image: { ...img, labels: { 'org.cunik.solo5.ipv4-args': 'off' }, args: ['verbose'] },
    instance: net,
    spec: { cmdline: 'verbose' },
  },
  {
    name: 'a declared block device takes the volume at /NAME: virtio-blk-pci in slot 2 with SeaBIOS; no NIC though a network is given',
    image: { ...img, labels: { 'org.cunik.solo5.devices': 'block:storage' } },
    instance: { ...net, volumes: [{ kind: 'block', source: '/v/disk.img', target: '/storage', readonly: false }] },
    spec: { firmware: 'seabios', nics: undefined },
    argv: [
      '-M', 'pc', '-kernel', 'app',
      '-drive', 'if=none,id=disk0,file=/v/disk.img,format=raw,readonly=off', '-device', 'virtio-blk-pci,drive=disk0,serial=vol0,addr=0x2',
      ...EXIT,
    ],
  },
  {
    name: 'devices in manifest order on consecutive slots, whatever the order of the argv (block first here, then net)',
    image: { ...img, labels: { 'org.cunik.solo5.devices': 'block:storage,net:service,block:logs' } },
    instance: {
      ...net,
      volumes: [
        { kind: 'block', source: '/v/a.img', target: '/anywhere', readonly: false },
        { kind: 'block', source: '/v/logs.img', target: '/logs', readonly: true },
      ],
    },
    argv: [
      '-M', 'pc', '-kernel', 'app', '-append', '--ipv4=10.0.2.15/24 --ipv4-gateway=10.0.2.2',
      '-drive', 'if=none,id=disk0,file=/v/a.img,format=raw,readonly=off', '-device', 'virtio-blk-pci,drive=disk0,serial=vol0,addr=0x2',
      '-drive', 'if=none,id=disk1,file=/v/logs.img,format=raw,readonly=on', '-device', 'virtio-blk-pci,drive=disk1,serial=vol1,addr=0x4',
      NET[0]!, NET[1]!, NET[2]!, `${NET[3]},addr=0x3`,
      ...EXIT,
    ],
  },
  {
    name: 'no devices declared: no NIC although the instance has its default network (Solo5 aborts on an undeclared one), qboot',
    image: { ...img, labels: { 'org.cunik.solo5.devices': '' } },
    instance: net,
    spec: { nics: undefined, disks: [], firmware: undefined },
  },
  { name: 'refuses a declared net device without a network, naming it', image: { ...img, labels: { 'org.cunik.solo5.devices': 'net:service' } }, throws: /^solo5: this unikernel declares network device "service": it needs a network/ },
  { name: 'refuses a declared block device without a volume, naming it', image: { ...img, labels: { 'org.cunik.solo5.devices': 'net:service,block:storage' } }, instance: net, throws: /^solo5: this unikernel declares block device "storage": attach a block volume for it \(-v VOLUME:\/storage\)$/ },
  { name: 'refuses more block volumes than declared block devices', image: { ...img, labels: { 'org.cunik.solo5.devices': 'block:storage' } }, instance: { volumes: [1, 2].map((i) => ({ kind: 'block' as const, source: `/v${i}`, target: `/d${i}`, readonly: false })) }, throws: /declares 1 block device\(s\) \(storage\): 2 block volumes/ },
  { name: 'refuses args with blanks', image: img, instance: { args: ['a b'] }, throws: /splits its command line/ },
  { name: 'refuses env', image: img, instance: { env: ['A=1'] }, throws: /no environment/ },
  { name: 'refuses shared folders', image: img, instance: { volumes: [{ kind: 'share', source: '/s', target: '/s', readonly: true }] }, throws: /cannot be shared/ },
  { name: 'refuses two block volumes', image: img, instance: { volumes: [1, 2].map((i) => ({ kind: 'block' as const, source: `/v${i}`, target: `/d${i}`, readonly: false })) }, throws: /single block/ },
  { name: 'refuses a block volume the unikernel does not declare', image: { ...img, labels: { 'org.cunik.solo5.devices': 'net:service' } }, instance: { volumes: [{ kind: 'block', source: '/v', target: '/d', readonly: false }] }, throws: /declares no block/ },
], test);

test("solo5: QEMU's status alone never tells the code", () => {
  for (const status of [83, 0, 1]) {
    const s = exitStatusOf(solo5, { status, signal: null });
    assert.deepEqual([s.code, s.known, s.note], [0, false, SOLO5_EXIT_NOTE]);
  }
  assert.deepEqual(exitStatusOf(solo5, { status: null, signal: 'SIGKILL' }).code, 137);
});

// Console transcripts: Solo5's own lines (bindings/exit.c, abort.c, virtio/start.c and pci.c format
// strings, v0.9.3) and what build/kernels/solo5*.elf print, which tests/integration checks end to end.
const transcripts: [string, string, number | undefined][] = [
  ['solo5_exit(0) after the banner', [
    '            |      ___|',
    '  __|  _ \\  |  _ \\ __ \\',
    '\\__ \\ (   | | (   |  ) |',
    '____/\\___/ _|\\___/____/',
    'Solo5: Bindings version v0.9.3',
    'Solo5: Memory map: 512 MB addressable:',
    'Solo5:   reserved @ (0x0 - 0xfffff)',
    'Solo5: Clock source: TSC, frequency estimate is 2394393450 Hz',
    'Solo5: PCI:00:02: virtio-net device, base=0xc000, irq=11',
    '**** Solo5 standalone test_hello ****',
    'Hello, World',
    "Command line is: ''",
    'SUCCESS',
    'Solo5: solo5_exit(0) called',
    '',
  ].join('\n'), 0],
  ['a failure code', 'Solo5: Bindings version v0.9.3\nsomething went wrong\nSolo5: solo5_exit(1) called\n', 1],
  ['a MirageOS exit code', '2026-12-02T06:00:00-00:00: [ERROR] [application] failed\nSolo5: solo5_exit(64) called\n', 64],
  ["an undeclared NIC (the issue's abort)", 'Solo5: PCI:00:02: virtio-net device, base=0xc000, irq=11\nSolo5: Virtio net: PCI:00:02 not in manifest\nSolo5: PCI enumeration failed. Aborting.\nSolo5: solo5_abort() called\n', 255],
  ['a declared device missing', "Solo5: Device 'storage' of type BLOCK not attached.Solo5: All declared devices must be attached. Aborting.\nSolo5: solo5_abort() called\n", 255],
  ['an assertion', "Solo5: ABORT: bindings/virtio/virtio_ring.c:77: Assertion `vq->num_avail > 0' failed\n", 255],
  ['stack smashing', 'Solo5: ABORT: Stack corruption detected\n', 255],
  ['app output without a newline before the exit line', 'doneSolo5: solo5_exit(3) called\n', 3],
  ["a negative status keeps its low 8 bits, as a process's", 'Solo5: solo5_exit(-1) called\n', 255],
  ['the test kernel (solo5.elf exit=3)', "Solo5: Bindings version v0.0.0-cunik-test\nCommand line is: 'exit=3'\nSolo5: solo5_exit(3) called\n", 3],
  ['quiet (--solo5:quiet): nothing to read', 'Hello, World\n', undefined],
];

test('solo5: the exit code from the console, the last exit line winning', () => {
  for (const [name, transcript, want] of transcripts) {
    let got: number | undefined;
    for (const line of transcript.split(/\r?\n/)) got = solo5ExitFromConsole(line)?.code ?? got;
    assert.equal(got, want, name);
  }
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
