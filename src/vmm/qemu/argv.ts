// BootSpec → QEMU argv. A pure function: no file system, no environment (DESIGN.md, "VMM: QEMU first").
// Choices and the reasons for them are in docs/qemu.md.

import { basename, isAbsolute, join } from 'node:path';
import { invalid } from '../../errors.js';
import { PASST_FD } from '../../network/passt.js';
import type { Accelerator, BootSpec, DiskSpec, MachineType, NicSpec, ShareSpec, VmPaths } from '../types.js';

export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64';

/** Debian's qemu-system-data ships qboot; the driver passes it as `bios` when the file exists. */
export const QBOOT_ROM = '/usr/share/qemu/qboot.rom';

/**
 * microvm trimmed to what a tiny kernel needs: no option ROMs, a legacy 16550 on 0x3f8, and none of
 * RTC, PIT, PIC, ACPI, PCIe. Multiboot and PVH ELFs boot with it (checked against QEMU 7.2).
 */
export const MICROVM_MACHINE = 'microvm,x-option-roms=off,isa-serial=on,rtc=off,pit=off,pic=off,acpi=off,pcie=off';

/**
 * TCG's translation cache, MiB (-accel tcg,tb-size=N); 0 keeps QEMU's own (1 GiB in 7.2), which a
 * Linux guest fills as far as it translates (Debian's kernel booting lighttpd: ~80 MiB, resident
 * and private to each VM). A cap saves memory per VM and costs re-translation when the cache fills:
 * the trade-off is measured in docs/qemu.md ("Host memory per instance under TCG"), and dense TCG
 * hosts choose it with cunikd --tcg-tb-size.
 */
export const DEFAULT_TCG_TB_SIZE_MIB = 0;

/** isa-debug-exit: a write of v to port 0xf4 ends QEMU with status (v << 1) | 1. */
export const DEBUG_EXIT_DEVICE = 'isa-debug-exit,iobase=0xf4,iosize=0x04';
/** The same device at QEMU's default port (0x501, 2 bytes), where Unikraft, Solo5 and Nanos write. */
export const DEBUG_EXIT_DEVICE_501 = 'isa-debug-exit,iobase=0x501,iosize=0x02';

export interface QemuArgvOptions {
  /** argv[0]; default qemu-system-x86_64 (resolved through PATH by spawn). */
  binary?: string;
  /**
   * Firmware for pc/q35 guests booted with -kernel (e.g. QBOOT_ROM, which starts them in about half
   * SeaBIOS's time). Not used for microvm, nor for guests booting from a disk (they need SeaBIOS).
   */
  bios?: string;
  /**
   * Confine the VM (docs/qemu.md, "Confinement"): QEMU's seccomp sandbox, and with `runas`
   * ("UID:GID") the switch to that user once QEMU has opened the files its command line names.
   */
  confine?: { runas?: string };
  /**
   * 'stdio': the serial console on QEMU's own stdin/stdout (cunik-runc: the fds containerd gives
   * the task), instead of the socket with its log file (the daemon's way).
   */
  console?: 'stdio';
  /**
   * TCG's translation cache in MiB (tb-size); default DEFAULT_TCG_TB_SIZE_MIB; 0 is QEMU's own
   * (1 GiB). Not used under KVM, which translates nothing.
   */
  tcgTbSizeMiB?: number;
  /**
   * Let the host's KSM merge identical pages of this VM with others' (QEMU's default, mem-merge=on).
   * Off unless asked: merged pages are copied on write, which a guest can time to learn what
   * another guest holds. Has an effect only where KSM runs (/sys/kernel/mm/ksm/run).
   */
  memMerge?: boolean;
  /** Start with the vCPUs stopped (-S), released by QMP `cont` (cunik-runc: create, then start). */
  paused?: boolean;
  /**
   * VM templates (template.ts): guest RAM in this file (memory-backend-file), shared (the template
   * boot writes it) or private (a clone's copy-on-write view of a template's).
   */
  memory?: { path: string; share: boolean };
  /** A clone: wait for the VM's saved state on this unix socket (QEMU listens) and run from it. */
  incoming?: string;
  /** The virtio-serial port org.cunik.config on this unix socket (QEMU listens): a template's init waits on it. */
  configPort?: string;
}

/** The name of the virtio-serial port a template's init waits on (init.c CONFIG_PORT). */
export const CONFIG_PORT_NAME = 'org.cunik.config';


/**
 * QEMU's seccomp filter. With -runas it must let QEMU call setuid/setgid once: QEMU 7.2 installs
 * the filter before it switches user, and elevateprivileges=deny kills it there (SIGSYS on
 * setgid). After the switch QEMU holds no capability (and runs with no_new_privs), so it cannot
 * change user again anyway.
 */
export function sandboxArg(runas: boolean): string {
  return `on,obsolete=deny,elevateprivileges=${runas ? 'allow' : 'deny'},spawn=deny,resourcecontrol=deny`;
}

/** QEMU's option parser splits on ','; a literal comma in a value is written ',,'. */
export function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** The -qmp argument for a socket path; adopt() recognises a process by it. */
export function qmpArg(qmpSocket: string): string {
  return `unix:${qemuOptValue(qmpSocket)},server=on,wait=off`;
}

const OPT_NAME = /^[a-z0-9][a-z0-9_-]*$/i;
const OPT_VALUE = /^[a-z0-9_.:/-]*$/i;

function machineArg(machine: MachineType, options: Record<string, string> = {}): string {
  let base: string;
  switch (machine) {
    case 'microvm':
      base = MICROVM_MACHINE;
      break;
    case 'pc':
    case 'q35':
      base = machine;
      break;
    default:
      throw invalid(`unknown machine type: ${String(machine)}`, 'machine');
  }
  const [type, ...defaults] = base.split(',');
  const merged = new Map(defaults.map((kv) => kv.split('=') as [string, string]));
  for (const [key, value] of Object.entries(options)) {
    if (!OPT_NAME.test(key) || !OPT_VALUE.test(value)) throw invalid(`bad machine option ${key}=${value}`, 'machineOptions');
    merged.set(key, value);
  }
  return [type, ...[...merged].map(([k, v]) => `${k}=${v}`)].join(',');
}

/** A disk's path: absolute, or relative to the instance directory. */
export function diskPath(disk: Pick<DiskSpec, 'path'>, dir: string): string {
  return isAbsolute(disk.path) ? disk.path : join(dir, disk.path);
}

function debugExitDevice(port = 0xf4): string {
  if (port === 0xf4) return DEBUG_EXIT_DEVICE;
  if (port === 0x501) return DEBUG_EXIT_DEVICE_501;
  throw invalid(`unsupported isa-debug-exit port 0x${port.toString(16)} (0xf4 or 0x501)`, 'debugExitPort');
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

/** `,addr=0xN` for a device placed at PCI slot N (2-31: 0 and 1 hold the host bridge and the ISA bridge on pc). */
function pciAddr(slot: number | undefined, machine: MachineType, field: string): string {
  if (slot === undefined) return '';
  if (machine === 'microvm') throw invalid(`${field}: microvm has no PCI bus`, field);
  if (!Number.isInteger(slot) || slot < 2 || slot > 31) throw invalid(`${field} must be a PCI slot 2-31, got ${slot}`, field);
  return `,addr=0x${slot.toString(16)}`;
}
const port = (n: number, field: string): number => {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw invalid(`${field} must be a port number (1-65535), got ${n}`, field);
  return n;
};
const noComma = (value: string, field: string): string => {
  if (value === '' || /[,\s]/.test(value)) throw invalid(`${field} must be non-empty without commas or spaces: ${JSON.stringify(value)}`, field);
  return value;
};

function netdevArg(nic: NicSpec, id: string, i: number): string {
  const b = nic.backend;
  // The socket cunik-shim made: its other end is passt's (src/network/passt.ts).
  if (b.type === 'passt') return `stream,id=${id},addr.type=fd,addr.str=${PASST_FD}`;
  if (b.type === 'unplugged') return `hubport,id=${id},hubid=${i}`;
  if (b.type === 'tap') return `tap,id=${id},ifname=${noComma(b.ifname, `nics[${i}].ifname`)},script=no,downscript=no`;
  if (b.type !== 'user') throw invalid(`unknown network backend: ${String((b as { type: unknown }).type)}`, `nics[${i}].backend`);
  let arg = `user,id=${id}`;
  if (b.net !== undefined) arg += `,net=${noComma(b.net, `nics[${i}].net`)}`;
  for (const [j, f] of (b.hostfwd ?? []).entries()) {
    const field = `nics[${i}].hostfwd[${j}]`;
    if (f.proto !== 'tcp' && f.proto !== 'udp') throw invalid(`${field}: proto must be tcp or udp`, field);
    const host = f.hostAddr === undefined ? '' : noComma(f.hostAddr, field);
    const guest = f.guestAddr === undefined ? '' : noComma(f.guestAddr, field);
    arg += `,hostfwd=${f.proto}:${host}:${port(f.hostPort, field)}-${guest}:${port(f.guestPort, field)}`;
  }
  return arg;
}

function nicArgs(nics: NicSpec[], machine: MachineType): string[] {
  if (nics.filter((n) => n.backend.type === 'passt').length > 1) throw invalid('a VM has at most one passt network', 'nics');
  const model = machine === 'microvm' ? 'virtio-net-device' : 'virtio-net-pci';
  return nics.flatMap((nic, i) => {
    const id = `net${i}`;
    // romfile= (empty): no iPXE option ROM, which SeaBIOS would load and run for nothing.
    let device = machine === 'microvm' ? `${model},netdev=${id}` : `${model},netdev=${id},romfile=`;
    device += pciAddr(nic.pciSlot, machine, `nics[${i}].pciSlot`);
    if (nic.mac !== undefined) {
      if (!MAC.test(nic.mac)) throw invalid(`nics[${i}].mac is not a MAC address: ${nic.mac}`, `nics[${i}].mac`);
      device += `,mac=${nic.mac}`;
    }
    return ['-netdev', netdevArg(nic, id, i), '-device', device];
  });
}

function shareArgs(shares: ShareSpec[], machine: MachineType): string[] {
  const model = machine === 'microvm' ? 'virtio-9p-device' : 'virtio-9p-pci';
  return shares.flatMap((share, i) => {
    const id = `fs${i}`;
    const ro = share.readonly ? ',readonly=on' : '';
    return [
      '-fsdev', `local,id=${id},path=${qemuOptValue(share.path)},security_model=mapped-xattr,multidevs=remap${ro}`,
      '-device', `${model},fsdev=${id},mount_tag=${noComma(share.tag, `shares[${i}].tag`)}`,
    ];
  });
}

function positiveInt(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) throw invalid(`${field} must be a positive integer, got ${value}`, field);
  return value;
}

/** -accel for TCG: with tb-size=N unless N is 0 (QEMU's default cache). */
function tcgAccelArg(tbSizeMiB: number): string {
  if (!Number.isInteger(tbSizeMiB) || tbSizeMiB < 0 || tbSizeMiB > 2048) throw invalid(`the TCG translation cache must be 0-2048 MiB (0: QEMU's default), got ${tbSizeMiB}`, 'tcgTbSizeMiB');
  return tbSizeMiB === 0 ? 'tcg' : `tcg,tb-size=${tbSizeMiB}`;
}

export function qemuArgv(spec: BootSpec, paths: VmPaths, accel: Accelerator, opts: QemuArgvOptions = {}): string[] {
  const memoryMiB = positiveInt(spec.memoryMiB, 'memoryMiB');
  const cpus = positiveInt(spec.cpus, 'cpus');
  if (spec.kernel === undefined && spec.disks.length === 0) throw invalid('boot spec has neither a kernel nor a disk', 'kernel');
  if (spec.initrd !== undefined && spec.kernel === undefined) throw invalid('an initrd needs a kernel', 'initrd');

  const argv: string[] = [opts.binary ?? DEFAULT_QEMU_BINARY];
  const name = basename(paths.dir);
  if (name !== '') argv.push('-name', qemuOptValue(`cunik-${name}`));
  argv.push('-M', machineArg(spec.machine, spec.machineOptions));
  if (accel !== 'kvm' && spec.kvmOnly !== undefined) throw invalid(`cannot start under TCG (software emulation): ${spec.kvmOnly}`, 'accel');
  if (accel === 'kvm') argv.push('-accel', 'kvm', '-cpu', 'host');
  else if (accel === 'tcg') argv.push('-accel', tcgAccelArg(opts.tcgTbSizeMiB ?? DEFAULT_TCG_TB_SIZE_MIB), '-cpu', 'max');
  else throw invalid(`unknown accelerator: ${String(accel)}`, 'accel');
  argv.push('-m', String(memoryMiB), '-smp', String(cpus));
  // A second -machine adds to the first (QEMU merges machine options).
  if (opts.memMerge !== true) argv.push('-machine', 'mem-merge=off');
  if (opts.memory !== undefined) {
    const { path, share } = opts.memory;
    argv.push('-object', `memory-backend-file,id=cunik-ram,size=${memoryMiB}M,mem-path=${qemuOptValue(path)},share=${share ? 'on' : 'off'},merge=${opts.memMerge === true ? 'on' : 'off'}`, '-machine', 'memory-backend=cunik-ram');
  }
  // -display none, not -nographic: with graphics off QEMU tells SeaBIOS to mirror its screen on the
  // serial port (etc/sercon-port), which then writes terminal resets (ESC c, ESC [?7l, ESC [2J) and
  // its banner into the guest's console before the kernel's first line (docs/qemu.md).
  argv.push('-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot');
  for (const g of spec.globals ?? []) {
    if (!/^[\w-]+\.[\w-]+=\S*$/.test(g)) throw invalid(`bad -global setting: ${g}`, 'globals');
    argv.push('-global', g);
  }

  if (spec.machine !== 'microvm' && spec.kernel !== undefined && opts.bios !== undefined && spec.firmware !== 'seabios') argv.push('-bios', opts.bios);
  bootLinks(spec); // refuses names that are not plain or that clash
  if (spec.kernel !== undefined) argv.push('-kernel', spec.kernelName ?? spec.kernel);
  if (spec.initrd !== undefined) argv.push('-initrd', spec.initrd);
  if (spec.modules !== undefined && spec.modules.length > 0) {
    if (spec.kernel === undefined) throw invalid('multiboot modules need a kernel', 'modules');
    if (spec.initrd !== undefined) throw invalid('a boot spec has either an initrd or modules', 'modules');
    // QEMU splits -initrd at commas and takes a module's path up to its first space (hw/i386/multiboot.c).
    argv.push('-initrd', spec.modules.map((m, i) => {
      const path = m.name ?? noComma(m.path, `modules[${i}].path`);
      if (m.cmdline === undefined || m.cmdline === '') return path;
      if (m.cmdline.includes(',')) throw invalid(`modules[${i}].cmdline cannot contain a comma`, `modules[${i}].cmdline`);
      return `${path} ${m.cmdline}`;
    }).join(','));
  }
  if (spec.kernel !== undefined && spec.cmdline !== '') argv.push('-append', spec.cmdline);

  const blkDevice = spec.machine === 'microvm' ? 'virtio-blk-device' : 'virtio-blk-pci';
  spec.disks.forEach((disk, i) => {
    if (disk.format !== 'raw' && disk.format !== 'qcow2') throw invalid(`unknown disk format: ${String(disk.format)}`, `disks[${i}].format`);
    const id = `disk${i}`;
    let device = `${blkDevice},drive=${id}`;
    if (disk.serial !== undefined) {
      if (!/^[\w.-]{1,20}$/.test(disk.serial)) throw invalid(`disks[${i}].serial must be 1-20 of [A-Za-z0-9_.-]`, `disks[${i}].serial`);
      device += `,serial=${disk.serial}`;
    }
    if (disk.boot) device += ',bootindex=0';
    device += pciAddr(disk.pciSlot, spec.machine, `disks[${i}].pciSlot`);
    argv.push(
      '-drive',
      `if=none,id=${id},file=${qemuOptValue(diskPath(disk, paths.dir))},format=${disk.format},readonly=${disk.readonly ? 'on' : 'off'}`,
      '-device',
      device,
    );
  });
  argv.push(...shareArgs(spec.shares ?? [], spec.machine), ...nicArgs(spec.nics ?? [], spec.machine));

  // Serial console: QEMU writes the log itself, also while nobody is connected to the socket
  // (verified on QEMU 7.2, see docs/qemu.md); the socket is for attach/input.
  // signal=off: a ^C on the task's stdin is the guest's input, not the end of QEMU.
  const chardev = opts.console === 'stdio'
    ? 'stdio,id=con0,signal=off'
    : `socket,id=con0,path=${qemuOptValue(paths.consoleSocket)},server=on,wait=off,logfile=${qemuOptValue(paths.consoleLog)},logappend=on`;
  argv.push('-chardev', chardev, '-serial', 'chardev:con0');
  if (opts.configPort !== undefined) {
    const serial = spec.machine === 'microvm' ? 'virtio-serial-device' : 'virtio-serial-pci';
    argv.push('-device', `${serial},max_ports=2`, '-chardev', `socket,id=cunik-cfg,path=${qemuOptValue(opts.configPort)},server=on,wait=off`, '-device', `virtserialport,chardev=cunik-cfg,name=${CONFIG_PORT_NAME}`);
  }
  // A clone listens (made before -runas drops root, so in the daemon's own folder) and loads the
  // stream once the daemon has set x-ignore-shared over QMP and connects (template.ts).
  if (opts.incoming !== undefined) argv.push('-incoming', `unix:${qemuOptValue(opts.incoming)}`);
  if (opts.paused === true) argv.push('-S');
  argv.push('-qmp', qmpArg(paths.qmpSocket));
  argv.push('-pidfile', paths.pidfile);
  if (opts.confine !== undefined) {
    const { runas } = opts.confine;
    if (runas !== undefined && !/^\d+:\d+$/.test(runas)) throw invalid(`the VM user must be UID:GID, got ${runas}`, 'runas');
    argv.push('-sandbox', sandboxArg(runas !== undefined));
    if (runas !== undefined) argv.push('-runas', runas);
  }
  if (spec.debugExit) argv.push('-device', debugExitDevice(spec.debugExitPort));
  return argv;
}

/**
 * The folder (in the instance directory) QEMU runs in when the spec names its boot files
 * (BootSpec.kernelName, ModuleSpec.name): each is a link there to its file, and QEMU is given the
 * bare name, which is what the guest then reads first on its command line.
 */
export const BOOT_DIR = 'boot';

/** One link the driver makes in BOOT_DIR before a start: `name` → `target` (the spec's path). */
export interface BootLink {
  name: string;
  target: string;
}

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** The boot files the spec names (kernel, modules), checked: plain, distinct file names. Pure. */
export function bootLinks(spec: BootSpec): BootLink[] {
  const links: BootLink[] = [];
  const add = (name: string | undefined, target: string | undefined, field: string): void => {
    if (name === undefined || target === undefined) return;
    if (!FILE_NAME.test(name)) throw invalid(`${field} must be a plain file name (letters, digits, '.', '_', '-', '+'), got ${JSON.stringify(name)}`, field);
    if (links.some((l) => l.name === name)) throw invalid(`${field}: two boot files are named ${name}`, field);
    links.push({ name, target });
  };
  add(spec.kernelName, spec.kernel, 'kernelName');
  (spec.modules ?? []).forEach((m, i) => add(m.name, m.path, `modules[${i}].name`));
  return links;
}
