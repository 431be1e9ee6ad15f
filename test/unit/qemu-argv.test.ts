import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { bootLinks, MICROVM_MACHINE, qemuArgv, qemuOptValue, qmpArg, type QemuArgvOptions } from '../../src/vmm/qemu/argv.js';
import type { Accelerator, BootSpec, VmPaths } from '../../src/vmm/types.js';

const paths: VmPaths = {
  dir: '/var/lib/cunik/instances/abc123',
  pidfile: '/var/lib/cunik/instances/abc123/qemu.pid',
  qmpSocket: '/var/lib/cunik/instances/abc123/qmp.sock',
  consoleLog: '/var/lib/cunik/instances/abc123/console.log',
  consoleSocket: '/var/lib/cunik/instances/abc123/console.sock',
};

const base: BootSpec = {
  machine: 'microvm',
  kernel: '/k/hello.elf',
  cmdline: 'exit=3',
  disks: [],
  memoryMiB: 64,
  cpus: 1,
  powerdown: 'none',
  debugExit: true,
};

const tail = [
  '-chardev',
  'socket,id=con0,path=/var/lib/cunik/instances/abc123/console.sock,server=on,wait=off,logfile=/var/lib/cunik/instances/abc123/console.log,logappend=on',
  '-serial',
  'chardev:con0',
  '-qmp',
  'unix:/var/lib/cunik/instances/abc123/qmp.sock,server=on,wait=off',
  '-pidfile',
  '/var/lib/cunik/instances/abc123/qemu.pid',
];
const common = ['-machine', 'mem-merge=off', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot'];
// QEMU's own translation cache unless cunikd --tcg-tb-size caps it (docs/qemu.md).
const tcg = ['-accel', 'tcg', '-cpu', 'max'];
const kvm = ['-accel', 'kvm', '-cpu', 'host'];
const debugExit = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'];
const head = (bin = 'qemu-system-x86_64'): string[] => [bin, '-name', 'cunik-abc123'];

interface Case {
  name: string;
  spec: Partial<BootSpec>;
  accel: Accelerator;
  opts?: QemuArgvOptions;
  want: string[];
}

const cases: Case[] = [
  {
    name: 'microvm, tcg, multiboot kernel with debug exit',
    spec: {},
    accel: 'tcg',
    want: [...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail, ...debugExit],
  },
  {
    name: 'microvm, kvm, custom binary, 2 cpus, no debug exit',
    spec: { cpus: 2, memoryMiB: 256, debugExit: false },
    accel: 'kvm',
    opts: { binary: '/opt/qemu/bin/qemu-system-x86_64' },
    want: [...head('/opt/qemu/bin/qemu-system-x86_64'), '-M', MICROVM_MACHINE, ...kvm, '-m', '256', '-smp', '2', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail],
  },
  {
    name: 'empty cmdline: no -append',
    spec: { cmdline: '' },
    accel: 'tcg',
    want: [...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', ...tail, ...debugExit],
  },
  {
    name: 'microvm with initrd and disks: virtio-blk-device',
    spec: {
      kernel: '/k/vmlinux',
      initrd: '/k/initrd.img',
      cmdline: 'console=ttyS0 quiet',
      debugExit: false,
      disks: [
        { path: '/v/data.raw', format: 'raw', readonly: false },
        { path: '/v/ro.qcow2', format: 'qcow2', readonly: true },
      ],
    },
    accel: 'tcg',
    want: [
      ...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common,
      '-kernel', '/k/vmlinux', '-initrd', '/k/initrd.img', '-append', 'console=ttyS0 quiet',
      '-drive', 'if=none,id=disk0,file=/v/data.raw,format=raw,readonly=off', '-device', 'virtio-blk-device,drive=disk0',
      '-drive', 'if=none,id=disk1,file=/v/ro.qcow2,format=qcow2,readonly=on', '-device', 'virtio-blk-device,drive=disk1',
      ...tail,
    ],
  },
  {
    name: 'pc with qboot: -bios, virtio-blk-pci',
    spec: { machine: 'pc', disks: [{ path: '/v/d.raw', format: 'raw', readonly: true }] },
    accel: 'kvm',
    opts: { bios: '/usr/share/qemu/qboot.rom' },
    want: [
      ...head(), '-M', 'pc', ...kvm, '-m', '64', '-smp', '1', ...common, '-bios', '/usr/share/qemu/qboot.rom',
      '-kernel', '/k/hello.elf', '-append', 'exit=3',
      '-drive', 'if=none,id=disk0,file=/v/d.raw,format=raw,readonly=on', '-device', 'virtio-blk-pci,drive=disk0',
      ...tail, ...debugExit,
    ],
  },
  {
    name: 'pc without a bios option: SeaBIOS (no -bios)',
    spec: { machine: 'pc' },
    accel: 'tcg',
    want: [...head(), '-M', 'pc', ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail, ...debugExit],
  },
  {
    name: 'pc booting from a disk: no -bios even if given (needs SeaBIOS), no -append',
    spec: { machine: 'pc', kernel: undefined, cmdline: 'ignored', debugExit: false, disks: [{ path: '/i/disk.qcow2', format: 'qcow2', readonly: false }] },
    accel: 'tcg',
    opts: { bios: '/usr/share/qemu/qboot.rom' },
    want: [
      ...head(), '-M', 'pc', ...tcg, '-m', '64', '-smp', '1', ...common,
      '-drive', 'if=none,id=disk0,file=/i/disk.qcow2,format=qcow2,readonly=off', '-device', 'virtio-blk-pci,drive=disk0',
      ...tail,
    ],
  },
  {
    name: 'microvm ignores the bios option',
    spec: {},
    accel: 'tcg',
    opts: { bios: '/usr/share/qemu/qboot.rom' },
    want: [...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail, ...debugExit],
  },
  {
    name: 'q35',
    spec: { machine: 'q35', debugExit: false },
    accel: 'tcg',
    want: [...head(), '-M', 'q35', ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail],
  },
  {
    name: 'machine options merge over microvm defaults, -global settings',
    spec: { machineOptions: { acpi: 'on', ioapic2: 'off' }, globals: ['virtio-mmio.force-legacy=false'] },
    accel: 'tcg',
    want: [
      ...head(), '-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=off,pit=off,pic=off,acpi=on,pcie=off,ioapic2=off', ...tcg, '-m', '64', '-smp', '1', ...common,
      '-global', 'virtio-mmio.force-legacy=false', '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail, ...debugExit,
    ],
  },
  {
    name: 'machine options on pc are appended',
    spec: { machine: 'pc', machineOptions: { hpet: 'off' }, debugExit: false },
    accel: 'tcg',
    want: [...head(), '-M', 'pc,hpet=off', ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail],
  },
  {
    name: 'isa-debug-exit at 0x501',
    spec: { debugExitPort: 0x501 },
    accel: 'tcg',
    want: [...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail, '-device', 'isa-debug-exit,iobase=0x501,iosize=0x02'],
  },
  {
    name: 'firmware seabios: no -bios even when qboot is offered',
    spec: { machine: 'pc', firmware: 'seabios', debugExit: false },
    accel: 'tcg',
    opts: { bios: '/usr/share/qemu/qboot.rom' },
    want: [...head(), '-M', 'pc', ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail],
  },
  {
    name: 'multiboot modules: one -initrd, module command lines after a space',
    spec: { machine: 'pc', cmdline: '', debugExit: false, modules: [{ path: '/i/chainloader-target', cmdline: 'a b' }, { path: '/i/second' }] },
    accel: 'tcg',
    want: [...head(), '-M', 'pc', ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-initrd', '/i/chainloader-target a b,/i/second', ...tail],
  },
  {
    name: 'a named kernel: QEMU gets the bare name (the guest reads it as argv[0]), run in the boot folder',
    spec: { kernelName: 'nginx' },
    accel: 'tcg',
    want: [...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', 'nginx', '-append', 'exit=3', ...tail, ...debugExit],
  },
  {
    name: 'named modules: bare names before their command lines; unnamed ones keep their path',
    spec: { machine: 'pc', cmdline: '', debugExit: false, modules: [{ path: '/i/service.elf', name: 'web', cmdline: 'a b' }, { path: '/i/second' }] },
    accel: 'tcg',
    want: [...head(), '-M', 'pc', ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-initrd', 'web a b,/i/second', ...tail],
  },
  {
    name: 'overlay disk relative to the instance dir, boot disk, serial',
    spec: {
      machine: 'pc', kernel: undefined, debugExit: false,
      disks: [
        { path: 'disk.qcow2', format: 'qcow2', readonly: false, overlay: { backing: '/i/disk.raw', backingFormat: 'raw' }, boot: true },
        { path: '/v/data.raw', format: 'raw', readonly: false, serial: 'vol0' },
      ],
    },
    accel: 'tcg',
    want: [
      ...head(), '-M', 'pc', ...tcg, '-m', '64', '-smp', '1', ...common,
      '-drive', 'if=none,id=disk0,file=/var/lib/cunik/instances/abc123/disk.qcow2,format=qcow2,readonly=off', '-device', 'virtio-blk-pci,drive=disk0,bootindex=0',
      '-drive', 'if=none,id=disk1,file=/v/data.raw,format=raw,readonly=off', '-device', 'virtio-blk-pci,drive=disk1,serial=vol0',
      ...tail,
    ],
  },
  {
    name: 'microvm: user and tap NICs as virtio-net-device, a 9p share as virtio-9p-device',
    spec: {
      debugExit: false,
      shares: [{ tag: 'vol0', path: '/srv/www', readonly: true }],
      nics: [
        { backend: { type: 'user', net: '10.0.2.0/24', hostfwd: [{ proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 }, { proto: 'udp', hostPort: 5353, guestAddr: '10.0.2.15', guestPort: 53 }] } },
        { backend: { type: 'tap', ifname: 'cunik-tap3' }, mac: '52:54:00:12:34:56' },
      ],
    },
    accel: 'tcg',
    want: [
      ...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3',
      '-fsdev', 'local,id=fs0,path=/srv/www,security_model=mapped-xattr,multidevs=remap,readonly=on', '-device', 'virtio-9p-device,fsdev=fs0,mount_tag=vol0',
      '-netdev', 'user,id=net0,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp::5353-10.0.2.15:53', '-device', 'virtio-net-device,netdev=net0',
      '-netdev', 'tap,id=net1,ifname=cunik-tap3,script=no,downscript=no', '-device', 'virtio-net-device,netdev=net1,mac=52:54:00:12:34:56',
      ...tail,
    ],
  },
  {
    name: 'pc: virtio-net-pci and virtio-9p-pci',
    spec: { machine: 'pc', debugExit: false, shares: [{ tag: 't', path: '/a,b', readonly: false }], nics: [{ backend: { type: 'user' } }] },
    accel: 'tcg',
    want: [
      ...head(), '-M', 'pc', ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3',
      '-fsdev', 'local,id=fs0,path=/a,,b,security_model=mapped-xattr,multidevs=remap', '-device', 'virtio-9p-pci,fsdev=fs0,mount_tag=t',
      '-netdev', 'user,id=net0', '-device', 'virtio-net-pci,netdev=net0,romfile=',
      ...tail,
    ],
  },
  {
    name: 'a passt NIC: QEMU gets its end of the socket pair at fd 3 (no slirp, no host forwarding in QEMU)',
    spec: {
      debugExit: false,
      nics: [{ backend: { type: 'passt', guest: { ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns: '10.0.2.3' }, forwards: [{ proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 }] } }],
    },
    accel: 'tcg',
    want: [
      ...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3',
      '-netdev', 'stream,id=net0,addr.type=fd,addr.str=3', '-device', 'virtio-net-device,netdev=net0',
      ...tail,
    ],
  },
  {
    name: 'confined, as the VM user: seccomp sandbox (setuid allowed once, for -runas) and -runas UID:GID',
    spec: {},
    accel: 'tcg',
    opts: { confine: { runas: '999:995' } },
    want: [
      ...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail,
      '-sandbox', 'on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny', '-runas', '999:995', ...debugExit,
    ],
  },
  {
    name: 'confined, already unprivileged (a daemon that is not root): no privilege elevation at all',
    spec: {},
    accel: 'tcg',
    opts: { confine: {} },
    want: [
      ...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail,
      '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny', ...debugExit,
    ],
  },
  {
    name: 'tcg, a translation cache of 16 MiB',
    spec: {},
    accel: 'tcg',
    opts: { tcgTbSizeMiB: 16 },
    want: [...head(), '-M', MICROVM_MACHINE, '-accel', 'tcg,tb-size=16', '-cpu', 'max', '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail, ...debugExit],
  },
  {
    name: "tcg, tcgTbSizeMiB 0: QEMU's own translation cache size",
    spec: {},
    accel: 'tcg',
    opts: { tcgTbSizeMiB: 0 },
    want: [...head(), '-M', MICROVM_MACHINE, '-accel', 'tcg', '-cpu', 'max', '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail, ...debugExit],
  },
  {
    name: 'kvm: no tb-size (KVM translates nothing), whatever tcgTbSizeMiB says',
    spec: {},
    accel: 'kvm',
    opts: { tcgTbSizeMiB: 16 },
    want: [...head(), '-M', MICROVM_MACHINE, ...kvm, '-m', '64', '-smp', '1', ...common, '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail, ...debugExit],
  },
  {
    name: 'memMerge: the guest RAM stays mergeable by KSM (no mem-merge=off)',
    spec: {},
    accel: 'tcg',
    opts: { memMerge: true },
    want: [...head(), '-M', MICROVM_MACHINE, ...tcg, '-m', '64', '-smp', '1', ...common.slice(2), '-kernel', '/k/hello.elf', '-append', 'exit=3', ...tail, ...debugExit],
  },
];

for (const c of cases) {
  test(`qemuArgv: ${c.name}`, () => {
    const spec = { ...base, ...c.spec } as BootSpec;
    assert.deepEqual(qemuArgv(spec, paths, c.accel, c.opts), c.want);
  });
}

test('qemuArgv: commas in paths are doubled where QEMU parses options', () => {
  const p: VmPaths = {
    dir: '/tmp/a,b',
    pidfile: '/tmp/a,b/pid',
    qmpSocket: '/tmp/a,b/qmp.sock',
    consoleLog: '/tmp/a,b/console.log',
    consoleSocket: '/tmp/a,b/console.sock',
  };
  const argv = qemuArgv({ ...base, disks: [{ path: '/d,x.raw', format: 'raw', readonly: true }] }, p, 'tcg');
  assert.ok(argv.includes('cunik-a,,b'));
  assert.ok(argv.includes('unix:/tmp/a,,b/qmp.sock,server=on,wait=off'));
  assert.ok(argv.includes('socket,id=con0,path=/tmp/a,,b/console.sock,server=on,wait=off,logfile=/tmp/a,,b/console.log,logappend=on'));
  assert.ok(argv.includes('if=none,id=disk0,file=/d,,x.raw,format=raw,readonly=on'));
  assert.ok(argv.includes('/tmp/a,b/pid'), '-pidfile is not an option list');
  assert.equal(qemuOptValue('a,,b'), 'a,,,,b');
  assert.equal(qmpArg('/x/q.sock'), 'unix:/x/q.sock,server=on,wait=off');
});

test('qemuArgv: is pure (same input, same output; input untouched)', () => {
  const spec: BootSpec = { ...base, disks: [{ path: '/v/a', format: 'raw', readonly: false }] };
  const snapshot = JSON.stringify(spec);
  assert.deepEqual(qemuArgv(spec, paths, 'tcg'), qemuArgv(spec, paths, 'tcg'));
  assert.equal(JSON.stringify(spec), snapshot);
});

test('qemuArgv: rejects bad specs with INVALID_ARGUMENT naming the field', () => {
  const bad: Array<[Partial<BootSpec>, string]> = [
    [{ memoryMiB: 0 }, 'memoryMiB'],
    [{ memoryMiB: 1.5 }, 'memoryMiB'],
    [{ cpus: 0 }, 'cpus'],
    [{ machine: 'virt' as never }, 'machine'],
    [{ disks: [{ path: '/x', format: 'vmdk' as never, readonly: false }] }, 'disks[0].format'],
    [{ machineOptions: { acpi: 'on,pit=on' } }, 'machineOptions'],
    [{ globals: ['-device foo'] }, 'globals'],
    [{ debugExitPort: 0x80 }, 'debugExitPort'],
    [{ modules: [{ path: '/a,b' }] }, 'modules[0].path'],
    [{ modules: [{ path: '/a', cmdline: 'x,y' }] }, 'modules[0].cmdline'],
    [{ kernelName: '/var/lib/cunik/k' }, 'kernelName'],
    [{ kernelName: 'a b' }, 'kernelName'],
    [{ kernelName: '..' }, 'kernelName'],
    [{ kernelName: '' }, 'kernelName'],
    [{ modules: [{ path: '/a', name: 'x,y' }] }, 'modules[0].name'],
    [{ kernelName: 'app', modules: [{ path: '/a', name: 'app' }] }, 'modules[0].name'],
    [{ disks: [{ path: '/x', format: 'raw', readonly: false, serial: 'has space' }] }, 'disks[0].serial'],
    [{ nics: [{ backend: { type: 'tap', ifname: 'a,b' } }] }, 'nics[0].ifname'],
    [{ nics: [{ backend: { type: 'user' }, mac: 'zz' }] }, 'nics[0].mac'],
    [{ nics: [{ backend: { type: 'user', hostfwd: [{ proto: 'tcp', hostPort: 0, guestPort: 80 }] } }] }, 'nics[0].hostfwd[0]'],
    [{ nics: [{ backend: { type: 'vde' } as never }] }, 'nics[0].backend'],
    [{ shares: [{ tag: '', path: '/x', readonly: true }] }, 'shares[0].tag'],
    [{ disks: [{ path: '/d', format: 'raw', readonly: false, pciSlot: 2 }] }, 'disks[0].pciSlot'], // microvm: no PCI bus
    [{ machine: 'pc', disks: [{ path: '/d', format: 'raw', readonly: false, pciSlot: 1 }] }, 'disks[0].pciSlot'], // the ISA bridge's slot
    [{ machine: 'pc', nics: [{ backend: { type: 'user' }, pciSlot: 32 }] }, 'nics[0].pciSlot'],
    [{ nics: [0, 1].map(() => ({ backend: { type: 'passt' as const, guest: { ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2' }, forwards: [] } })) }, 'nics'],
  ];
  for (const [patch, field] of bad) {
    assert.throws(
      () => qemuArgv({ ...base, ...patch }, paths, 'tcg'),
      (e: unknown) => e instanceof CunikError && e.code === 'INVALID_ARGUMENT' && e.field === field,
      field,
    );
  }
  // A guest that matches devices by slot order gets them where it asks, whatever the argv's order.
  const slotted = qemuArgv({ ...base, machine: 'pc', disks: [{ path: '/d', format: 'raw', readonly: false, pciSlot: 3 }], nics: [{ backend: { type: 'user' }, pciSlot: 2 }] }, paths, 'tcg');
  assert.ok(slotted.includes('virtio-blk-pci,drive=disk0,addr=0x3'), slotted.join(' '));
  assert.ok(slotted.includes('virtio-net-pci,netdev=net0,romfile=,addr=0x2'), slotted.join(' '));
  const noKernel: BootSpec = { ...base };
  delete noKernel.kernel;
  assert.throws(() => qemuArgv(noKernel, paths, 'tcg'), (e: unknown) => e instanceof CunikError && e.field === 'kernel');
  assert.throws(() => qemuArgv(noKernel, paths, 'tcg'), /neither a kernel nor a disk/);
  assert.throws(() => qemuArgv({ ...noKernel, initrd: '/i', disks: [{ path: '/d', format: 'raw', readonly: false }] }, paths, 'tcg'), /initrd needs a kernel/);
  for (const n of [-1, 1.5, 4096]) assert.throws(() => qemuArgv(base, paths, 'tcg', { tcgTbSizeMiB: n }), (e: unknown) => e instanceof CunikError && e.field === 'tcgTbSizeMiB');
  assert.throws(() => qemuArgv(base, paths, 'hvf' as never), (e: unknown) => e instanceof CunikError && e.field === 'accel');
  assert.throws(() => qemuArgv(base, paths, 'tcg', { confine: { runas: 'root' } }), (e: unknown) => e instanceof CunikError && e.field === 'runas');
  assert.throws(() => qemuArgv({ ...noKernel, modules: [{ path: '/m' }], disks: [{ path: '/d', format: 'raw', readonly: false }] }, paths, 'tcg'), /modules need a kernel/);
  assert.throws(() => qemuArgv({ ...base, initrd: '/i', modules: [{ path: '/m' }] }, paths, 'tcg'), /either an initrd or modules/);
});

test('bootLinks: each named boot file links its name to its path; unnamed files need no link', () => {
  const cases: Array<[Partial<BootSpec>, Array<{ name: string; target: string }>]> = [
    [{}, []],
    [{ kernelName: 'hello' }, [{ name: 'hello', target: '/k/hello.elf' }]],
    [{ kernel: undefined, kernelName: 'hello', disks: [{ path: '/d', format: 'raw', readonly: false }] }, []],
    [{ modules: [{ path: '/i/svc', name: 'svc' }, { path: '/i/other' }] }, [{ name: 'svc', target: '/i/svc' }]],
    [{ kernelName: 'chainloader', modules: [{ path: '/i/svc', name: 'web' }] }, [{ name: 'chainloader', target: '/k/hello.elf' }, { name: 'web', target: '/i/svc' }]],
  ];
  for (const [patch, want] of cases) assert.deepEqual(bootLinks({ ...base, ...patch } as BootSpec), want, JSON.stringify(patch));
});
