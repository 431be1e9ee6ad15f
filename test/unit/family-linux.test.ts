import test from 'node:test';
import assert from 'node:assert/strict';
import { linux, linuxConsoleExit } from '../../src/families/linux.js';
import { instanceExitStatus } from '../../src/instances/exit-status.js';
import { kernelReads, kernelWord } from '../../src/families/linux-cmdline.js';
import { image as imageOf, instance, runCases, userNet } from './family-helpers.js';

const MICROVM_ACPI = 'microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=off,pic=off,acpi=on,pcie=off';
const EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'];
const img = { boot: 'pvh', kernelPath: '/i/vmlinux', initrdPath: '/i/initrd', args: ['/bin/httpd', '-f'], env: ['PATH=/bin'] };

runCases(linux, [
  {
    name: 'TSC frequency unknown: the PIT stays on, no tsc_early_khz',
    image: img,
    spec: { machine: 'microvm', machineOptions: { acpi: 'on', rtc: 'on', pit: 'on' }, powerdown: 'acpi', debugExit: true, memoryMiB: 64 },
    argv: [
      '-M', 'microvm,x-option-roms=off,isa-serial=on,rtc=on,pit=on,pic=off,acpi=on,pcie=off',
      '-kernel', '/i/vmlinux', '-initrd', '/i/initrd',
      '-append', 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init no_timer_check cryptomgr.notests rootfstype=ramfs PATH=/bin -- /bin/httpd -f',
      ...EXIT,
    ],
  },
  {
    name: 'instance TSC: pit=off kept, tsc_early_khz given; instance args replace the image\'s',
    image: img,
    instance: { tscKhz: 2000000, args: ['/bin/sh', '-c', 'echo hi; exit 3'], memoryMiB: 256 },
    spec: { machineOptions: { acpi: 'on', rtc: 'on' }, memoryMiB: 256 },
    argv: [
      '-M', MICROVM_ACPI, '-kernel', '/i/vmlinux', '-initrd', '/i/initrd',
      '-append', 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs PATH=/bin -- /bin/sh -c "echo hi; exit 3"',
      ...EXIT,
    ],
  },
  {
    name: 'TSC from the image label',
    image: { ...img, labels: { 'org.cunik.tsc-khz': '2399998' } },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2399998 no_timer_check cryptomgr.notests rootfstype=ramfs PATH=/bin -- /bin/httpd -f' },
  },
  {
    name: 'network, volumes, env with blanks: ip=, cunik.blk=, cunik.9p=, virtio-mmio devices',
    image: img,
    instance: {
      tscKhz: 2000000,
      env: ['GREETING=hello world', 'PATH=/usr/bin'],
      networks: [userNet({ ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'] })],
      volumes: [
        { kind: 'block', source: '/v/data.ext4', target: '/data', readonly: false },
        { kind: 'block', source: '/v/logs.raw', target: '/logs', readonly: false, fstype: 'ext2' },
        { kind: 'share', source: '/srv/www', target: '/www', readonly: true },
      ],
    },
    argv: [
      '-M', MICROVM_ACPI, '-kernel', '/i/vmlinux', '-initrd', '/i/initrd',
      '-append', 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.3 cunik.blk=/dev/vda:/data cunik.blk=/dev/vdb:/logs:ext2 cunik.9p=vol0:/www PATH=/usr/bin GREETING="hello world" -- /bin/httpd -f',
      '-drive', 'if=none,id=disk0,file=/v/data.ext4,format=raw,readonly=off', '-device', 'virtio-blk-device,drive=disk0,serial=vol0',
      '-drive', 'if=none,id=disk1,file=/v/logs.raw,format=raw,readonly=off', '-device', 'virtio-blk-device,drive=disk1,serial=vol1',
      '-fsdev', 'local,id=fs0,path=/srv/www,security_model=mapped-xattr,multidevs=remap,readonly=on', '-device', 'virtio-9p-device,fsdev=fs0,mount_tag=vol0',
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-device,netdev=net0',
      ...EXIT,
    ],
  },
  {
    name: 'bzImage on pc (label): qboot, PCI kept, virtio-net-pci',
    image: { ...img, boot: 'linux', kernelPath: '/i/bzImage', labels: { 'org.cunik.machine': 'pc' } },
    instance: { tscKhz: 2000000, args: ['/app'], env: [], networks: [userNet({ ip: '10.0.2.15', prefix: 24 })] },
    spec: { machine: 'pc', powerdown: 'acpi' },
    argv: [
      '-M', 'pc', '-bios', '/usr/share/qemu/qboot.rom', '-kernel', '/i/bzImage', '-initrd', '/i/initrd',
      '-append', 'console=ttyS0 quiet panic=-1 tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs ip=10.0.2.15:::255.255.255.0::eth0:off PATH=/bin -- /app',
      '-netdev', 'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80', '-device', 'virtio-net-pci,netdev=net0,romfile=',
      ...EXIT,
    ],
  },
  {
    name: 'org.cunik.init=cunik: the image env is in the initramfs, only the instance env is passed',
    image: { ...img, env: Array.from({ length: 40 }, (_, i) => `K${i}=v`), labels: { 'org.cunik.init': 'cunik' } },
    instance: { tscKhz: 2000000, env: ['K3=override'], args: [] },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs K3=override -- /bin/httpd -f' },
  },
  {
    name: 'no args at all: no "--"',
    image: { ...img, args: [], env: [] },
    instance: { tscKhz: 1000000 },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=1000000 no_timer_check cryptomgr.notests rootfstype=ramfs' },
  },
  {
    name: 'a host name: cunik.hostname=, which the init sets (and keeps off the environment)',
    image: { ...img, args: [], env: [] },
    instance: { tscKhz: 1000000, hostname: 'web-1.example.com' },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=1000000 no_timer_check cryptomgr.notests rootfstype=ramfs cunik.hostname=web-1.example.com' },
  },
  {
    name: '--add-host: cunik.host=NAME,ADDRESS each, host-gateway as the first network\'s gateway',
    image: { ...img, args: [], env: [] },
    instance: { tscKhz: 1000000, networks: [userNet({ ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2' })], extraHosts: [{ name: 'db', address: '10.9.0.5' }, { name: 'host.docker.internal', address: 'host-gateway' }, { name: 'v6', address: 'fd00::5' }] },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=1000000 no_timer_check cryptomgr.notests rootfstype=ramfs ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off cunik.host=db,10.9.0.5 cunik.host=host.docker.internal,10.0.2.2 cunik.host=v6,fd00::5' },
  },
  {
    name: '--user and --workdir: cunik.user= and cunik.workdir=, over the image\'s',
    image: { ...img, args: [], env: [] },
    instance: { tscKhz: 1000000, user: 'www-data:33', workdir: '/srv/app' },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=1000000 no_timer_check cryptomgr.notests rootfstype=ramfs cunik.user=www-data:33 cunik.workdir=/srv/app' },
  },
  {
    name: '--entrypoint: cunik.entrypoint=, and the instance\'s args alone (the image\'s defaults are not used)',
    image: img,
    instance: { tscKhz: 1000000, env: [], entrypoint: '/bin/sh', args: [] },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=1000000 no_timer_check cryptomgr.notests rootfstype=ramfs cunik.entrypoint=/bin/sh PATH=/bin' },
  },
  {
    name: '--dns, --dns-search, --dns-option: comma-joined cunik.dns=, cunik.search=, cunik.dnsopt=',
    image: { ...img, args: [], env: [] },
    instance: { tscKhz: 1000000, dns: { servers: ['192.0.2.53', 'fd00::53'], search: ['a.example', 'b.example'], options: ['ndots:2', 'rotate'] } },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=1000000 no_timer_check cryptomgr.notests rootfstype=ramfs cunik.dns=192.0.2.53,fd00::53 cunik.search=a.example,b.example cunik.dnsopt=ndots:2,rotate' },
  },
  { name: 'refuses a resolv.conf word the lists cannot carry', image: img, instance: { dns: { search: ['a,b'] } }, throws: /^linux: not a resolv\.conf search domain/ },
  { name: 'refuses a working directory the command line cannot carry', image: img, instance: { workdir: '/a b' }, throws: /^linux: not a working directory: "\/a b"$/ },
  { name: 'refuses a user that is none', image: img, instance: { user: 'a b' }, throws: /^linux: not a user: "a b"$/ },
  { name: '--add-host host-gateway without a network is refused', image: img, instance: { extraHosts: [{ name: 'h', address: 'host-gateway' }] }, throws: /^linux: --add-host h:host-gateway needs a network with a gateway \(not --network none\)$/ },
  { name: 'refuses a host name that is none (a word the kernel would split)', image: img, instance: { hostname: 'a b' }, throws: /^linux: not a host name: "a b"$/ },
  { name: 'refuses an image without a kernel', image: { ...img, kernelPath: undefined }, throws: /needs a kernel/ },
  {
    name: 'quotes inside a word survive when the kernel can read them back',
    image: { ...img, env: [] },
    instance: { tscKhz: 1000000, args: ['/bin/sh', '-c', 'echo "$0"; exit 3', 'x'], env: ['Q="quoted"'] },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=1000000 no_timer_check cryptomgr.notests rootfstype=ramfs Q=""quoted"" -- /bin/sh -c "echo "$0"; exit 3" x' },
  },
  { name: 'refuses a quoted blank inside a word', image: img, instance: { args: ['echo "a b"'] }, throws: /cannot carry/ },
  {
    name: 'refuses less memory than the image\'s measured minimum (the guest would say nothing)',
    image: { ...img, labels: { 'org.cunik.memory.min': '95' } },
    instance: { memoryMiB: 64 },
    throws: /^linux: 64 MiB of memory is too little for this image: its kernel and initramfs need at least 95 MiB \(-m 95m or more\)$/,
  },
  {
    name: 'the minimum itself is enough',
    image: { ...img, labels: { 'org.cunik.memory.min': '95' } },
    instance: { memoryMiB: 95 },
    spec: { memoryMiB: 95 },
  },
  { name: 'refuses "--" in the args', image: img, instance: { args: ['app', '--', 'x'] }, throws: /"--"/ },
  { name: 'refuses a dotted env key (a module parameter)', image: img, instance: { env: ['a.b=1'] }, throws: /taken by the kernel/ },
  { name: 'refuses an env key the kernel takes', image: img, instance: { env: ['console=tty0'] }, throws: /taken by the kernel/ },
  { name: 'refuses more than 31 args', image: img, instance: { args: Array.from({ length: 32 }, (_, i) => `a${i}`) }, throws: /at most 31/ },
  { name: 'refuses more than 30 env words', image: img, instance: { env: Array.from({ length: 30 }, (_, i) => `K${i}=v`) }, throws: /at most 30/ },
  { name: 'refuses a command line over 2047 bytes', image: img, instance: { args: ['x'.repeat(2100)] }, throws: /over Linux's 2047/ },
  { name: 'refuses a mount point with a blank', image: img, instance: { volumes: [{ kind: 'share', source: '/s', target: '/a b', readonly: true }] }, throws: /cannot mount/ },
  { name: 'refuses a relative mount point', image: img, instance: { volumes: [{ kind: 'share', source: '/s', target: 'data', readonly: true }] }, throws: /absolute/ },
  { name: 'a kernel without 9p (label volume-kinds=block): a host folder is refused, naming the kernel', image: { ...img, labels: { 'org.cunik.volume-kinds': 'block', 'org.cunik.kernel.release': '6.1.0-57-cloud-amd64' } }, instance: { volumes: [{ kind: 'share', source: '/s', target: '/www', readonly: true }] }, throws: /kernel \(6\.1\.0-57-cloud-amd64\) has no 9p, so it cannot mount a shared folder \(a host folder or a share volume\) at \/www: use a block volume/ },
  { name: 'a kernel without block modules: a named volume is refused', image: { ...img, labels: { 'org.cunik.volume-kinds': 'share' } }, instance: { volumes: [{ kind: 'block', source: '/v/d.ext4', target: '/data', readonly: false }] }, throws: /has no virtio_blk or ext4, so it cannot mount the volume at \/data/ },
  { name: 'a kernel with no volume modules at all (volume-kinds empty): a folder is refused', image: { ...img, labels: { 'org.cunik.volume-kinds': '' } }, instance: { volumes: [{ kind: 'share', source: '/s', target: '/www', readonly: true }] }, throws: /has no 9p/ },
  { name: 'refuses a bad address', image: img, instance: { networks: [userNet({ ip: '10.0.2.300', prefix: 24 })] }, throws: /not an IPv4/ },
  {
    name: 'several bridge networks: one ip= each, the device named by its MAC, gateway and DNS of the first only',
    image: { ...img, env: [] },
    instance: {
      tscKhz: 2000000,
      args: ['/app'],
      networks: [
        { nic: { backend: { type: 'tap', ifname: 'cunikt012345678' }, mac: '02:00:00:00:01:0a' }, ip: '10.217.1.2', prefix: 24, gateway: '10.217.1.1', dns: ['10.217.1.1'] },
        { nic: { backend: { type: 'tap', ifname: 'cunikt01234567g' }, mac: '02:43:0a:d9:02:0a' }, ip: '10.217.2.10', prefix: 16, gateway: '10.217.0.1', dns: ['10.217.0.1'] },
      ],
    },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs ip=10.217.1.2::10.217.1.1:255.255.255.0::02-00-00-00-01-0a:off:10.217.1.1 ip=10.217.2.10:::255.255.0.0::02-43-0a-d9-02-0a:off -- /app' },
  },
  {
    name: 'IPv6 (a network made with --ipv6): cunik.ip6=DEV,ADDR/PREFIX,GATEWAY beside ip=',
    image: { ...img, env: [] },
    instance: { tscKhz: 2000000, args: ['/app'], networks: [{ nic: { backend: { type: 'tap', ifname: 't0' }, mac: '02:43:0a:da:00:03' }, ip: '10.218.0.3', prefix: 24, gateway: '10.218.0.1', ip6: 'fd00:cafe:1::3', prefix6: 64, gateway6: 'fd00:cafe:1::1' }] },
    spec: { cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs ip=10.218.0.3::10.218.0.1:255.255.255.0::eth0:off cunik.ip6=eth0,fd00:cafe:1::3/64,fd00:cafe:1::1 -- /app' },
  },
  { name: 'refuses a bad IPv6 address', image: img, instance: { networks: [{ nic: { backend: { type: 'tap', ifname: 't0' } }, ip: '10.0.0.2', prefix: 24, ip6: 'fd00::zz', prefix6: 64 }] }, throws: /not an IPv6 address and prefix: fd00::zz\/64/ },
  {
    name: 'several networks need a MAC for each NIC (the init finds the device by it)',
    image: img,
    instance: { networks: [userNet({ ip: '10.0.2.15', prefix: 24 }), { nic: { backend: { type: 'tap', ifname: 't1' } }, ip: '10.1.0.2', prefix: 24 }] },
    throws: /^linux: a guest with several networks needs a MAC address for each NIC$/,
  },
  {
    name: 'root disk: attached read-only after the volumes with the serial cunik-root; cunik.root= before "--"',
    image: { ...img, diskPath: '/i/disk.img', labels: { 'org.cunik.rootfs': 'disk', 'org.cunik.init': 'cunik' }, env: [] },
    instance: { tscKhz: 2000000, volumes: [{ kind: 'block', source: '/v/data.ext4', target: '/data', readonly: false }] },
    argv: [
      '-M', MICROVM_ACPI, '-kernel', '/i/vmlinux', '-initrd', '/i/initrd',
      '-append', 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs cunik.blk=/dev/vda:/data cunik.root=cunik-root -- /bin/httpd -f',
      '-drive', 'if=none,id=disk0,file=/v/data.ext4,format=raw,readonly=off', '-device', 'virtio-blk-device,drive=disk0,serial=vol0',
      '-drive', 'if=none,id=disk1,file=/i/disk.img,format=raw,readonly=on', '-device', 'virtio-blk-device,drive=disk1,serial=cunik-root',
      ...EXIT,
    ],
  },
  {
    name: 'root disk with --read-only: cunik.ro, still no writable disk',
    image: { ...img, diskPath: '/i/disk.img', labels: { 'org.cunik.rootfs': 'disk', 'org.cunik.init': 'cunik' }, env: [] },
    instance: { tscKhz: 2000000, readOnlyRoot: true, args: ['true'] },
    spec: {
      cmdline: 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs cunik.root=cunik-root cunik.ro -- true',
      disks: [{ path: '/i/disk.img', format: 'raw', readonly: true, serial: 'cunik-root' }],
    },
  },
  { name: '--read-only without a root disk is refused', image: img, instance: { readOnlyRoot: true }, throws: /--read-only needs an image whose root file system is a root disk/ },
  { name: 'a root-disk label without the disk is refused', image: { ...img, labels: { 'org.cunik.rootfs': 'disk' } }, throws: /has no root disk/ },
], test);

test('linux command line: words as the kernel reads them back (kernel/params.c next_arg)', () => {
  const reads: Array<[string, string | undefined]> = [
    ['plain', 'plain'],
    ['x=y', 'x=y'],
    ['"a b"', 'a b'],
    ['k="v w"', 'k=v w'],
    ['"k=v w"', 'k=v w'],
    ['"say "hi""', 'say "hi"'],
    ['a b', undefined], // two words
    ['"a "b c""', undefined], // the blank in "b c" is outside the quotes
    ['a"b', undefined], // an open quote runs on into the next word
    ['=x', '=x'], // "=" at position 0 is not a separator
  ];
  for (const [token, want] of reads) assert.equal(kernelReads(token), want, token);
  const words: Array<[string, string | undefined]> = [
    ['/bin/app', '/bin/app'],
    ['hello world', '"hello world"'],
    ['B=two words', 'B="two words"'],
    ['say "hi"', '"say "hi""'],
    ['a=', 'a='],
    ['', '""'], // an empty word: checked on Linux 6.1, init gets an empty argument
    ['"', undefined],
    ['echo "a b"', undefined],
  ];
  for (const [word, want] of words) {
    assert.equal(kernelWord(word), want, word);
    if (want !== undefined) assert.equal(kernelReads(want), word);
  }
});

test('linux exit: an initramfs the kernel could not unpack whole is 125 with its reason, over the status the init reported', () => {
  const oom = linuxConsoleExit('[    2.104512] Initramfs unpacking failed: write error');
  assert.equal(oom?.code, 125);
  assert.match(oom!.note, /could not unpack the initramfs whole \("write error"\): the guest ran out of memory \(give it more with -m\); the app was not run/);
  assert.equal(linuxConsoleExit('Initramfs unpacking failed: junk in compressed archive')?.note, 'the kernel could not unpack the initramfs whole ("junk in compressed archive"); the app was not run');
  const root = linuxConsoleExit('cunik-init: the root disk could not be mounted (/dev/vda: Cannot allocate memory): the guest ran out of memory (give it more with -m); the app was not run\r');
  assert.deepEqual(root, { code: 125, note: 'the root disk could not be mounted (/dev/vda: Cannot allocate memory): the guest ran out of memory (give it more with -m); the app was not run' });
  assert.deepEqual(linuxConsoleExit('cunik-init: the volume vol0 could not be mounted on /data (No such device); the app was not run'), { code: 125, note: 'the volume vol0 could not be mounted on /data (No such device); the app was not run' });
  // Other lines, an app echoing the phrase mid-line: no exit.
  for (const line of ['', 'Run /init as init process', 'app: Initramfs unpacking failed: write error', 'app: cunik-init: the root disk could not be mounted (x)']) assert.equal(linuxConsoleExit(line), undefined, line);
  const console = 'Linux version 6.1\r\nInitramfs unpacking failed: write error\r\ncunik-init: the root file system is incomplete (Initramfs unpacking failed: write error): the app was not run\r\n';
  const status = instanceExitStatus(linux, { status: (125 << 1) | 1, signal: null }, () => console);
  assert.equal(status.code, 125);
  assert.equal(status.source, 'console');
  assert.match(status.note ?? '', /ran out of memory/);
  // A boot that unpacked whole keeps the app's own code.
  assert.deepEqual(instanceExitStatus(linux, { status: 7, signal: null }, () => 'Run /init as init process\r\n'), { code: 3, known: true, source: 'guest' });
});

test('linux clone: a root-disk image of cunik-init may start from a template; the template line is what instances share, the rest goes to the init unquoted', () => {
  const image = imageOf('linux', { ...img, diskPath: '/i/disk.img', env: [], labels: { 'org.cunik.rootfs': 'disk', 'org.cunik.init': 'cunik', 'org.cunik.clone': '1' } });
  const net = userNet({ ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'] });
  const spec = linux.bootSpec(image, instance({ args: ['say "hi"'], env: ['GREETING=hi there'], hostname: 'web', tscKhz: 2000000, networks: [{ ...net, nic: { ...net.nic, mac: '02:42:0a:00:00:05' } }] }));
  assert.equal(spec.clone?.cmdline, 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs cunik.root=cunik-root cunik.template');
  assert.deepEqual(spec.clone?.words, ['ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.3', 'cunik.hostname=web', 'cunik.mac=02:42:0a:00:00:05', 'GREETING=hi there', '--', 'say "hi"']);
  // The whole boot's line is unchanged.
  assert.match(spec.cmdline, /^console=ttyS0 .* rootfstype=ramfs ip=\S+ cunik.hostname=web GREETING="hi there" cunik.root=cunik-root -- "say "hi""$/);
  const ro = linux.bootSpec(image, instance({ readOnlyRoot: true }));
  assert.match(ro.clone!.cmdline, / cunik.root=cunik-root cunik.ro cunik.template$/);
  // Not cloned: no label (an image built before), an initramfs image, a volume, two NICs.
  assert.equal(linux.bootSpec({ ...image, labels: { ...image.labels, 'org.cunik.clone': '' } }, instance()).clone, undefined);
  assert.equal(linux.bootSpec({ ...image, labels: { 'org.cunik.init': 'cunik', 'org.cunik.clone': '1' } }, instance()).clone, undefined);
  assert.equal(linux.bootSpec(image, instance({ volumes: [{ kind: 'block', source: '/v/d.ext4', target: '/data', readonly: false }] })).clone, undefined);
  const two = [{ ...net, nic: { ...net.nic, mac: '02:42:0a:00:00:05' } }, { nic: { backend: { type: 'tap', ifname: 't1' }, mac: '02:42:0a:00:00:06' }, ip: '10.1.0.2', prefix: 24 }];
  assert.equal(linux.bootSpec(image, instance({ networks: two as never })).clone, undefined);
});

test('linux clone of an app template (snapshot: app): the image\'s own command is the template\'s, a clone\'s words are its addresses and names', () => {
  const image = imageOf('linux', { ...img, diskPath: '/i/disk.img', env: [], args: ['-D'], labels: { 'org.cunik.rootfs': 'disk', 'org.cunik.init': 'cunik', 'org.cunik.clone': 'app', 'org.cunik.ports': '["80/tcp","53/udp"]' } });
  const net = userNet({ ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'] });
  const nets = [{ ...net, nic: { ...net.nic, mac: '02:42:0a:00:00:05' } }];
  const spec = linux.bootSpec(image, instance({ hostname: 'web', tscKhz: 2000000, dns: { search: ['example.org'] }, networks: nets }));
  assert.equal(spec.clone?.cmdline, 'console=ttyS0 quiet panic=-1 pci=off initcall_blacklist=pci_arch_init tsc_early_khz=2000000 no_timer_check cryptomgr.notests rootfstype=ramfs cunik.root=cunik-root cunik.template=80/tcp,53/udp -- -D');
  assert.deepEqual(spec.clone?.words, ['ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.3', 'cunik.hostname=web', 'cunik.search=example.org', 'cunik.mac=02:42:0a:00:00:05']);
  assert.match(linux.bootSpec(image, instance({ readOnlyRoot: true })).clone!.cmdline, / cunik.root=cunik-root cunik.ro cunik.template=80\/tcp,53\/udp -- -D$/);
  // A command of its own (env, args, entrypoint, workdir, user): the boot template, with it in the words.
  for (const own of [{ env: ['A=1'] }, { args: ['-x'] }, { entrypoint: '/bin/sh' }, { workdir: '/srv' }, { user: 'www-data' }]) {
    const c = linux.bootSpec(image, instance({ ...own, networks: nets })).clone!;
    assert.match(c.cmdline, / cunik.template$/, JSON.stringify(own));
  }
  assert.deepEqual(linux.bootSpec(image, instance({ env: ['A=1'], networks: nets })).clone!.words.slice(-4), ['cunik.mac=02:42:0a:00:00:05', 'A=1', '--', '-D']);
});
