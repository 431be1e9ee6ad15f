// BootSpec → QEMU argv. A pure function: no file system, no environment (DESIGN.md, "VMM: QEMU first").
// Choices and the reasons for them are in docs/qemu.md.

import { basename } from 'node:path';
import { invalid } from '../../errors.js';
import type { Accelerator, BootSpec, MachineType, VmPaths } from '../types.js';

export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64';

/** Debian's qemu-system-data ships qboot; the driver passes it as `bios` when the file exists. */
export const QBOOT_ROM = '/usr/share/qemu/qboot.rom';

/**
 * microvm trimmed to what a tiny kernel needs: no option ROMs, a legacy 16550 on 0x3f8, and none of
 * RTC, PIT, PIC, ACPI, PCIe. Multiboot and PVH ELFs boot with it (checked against QEMU 7.2).
 */
export const MICROVM_MACHINE = 'microvm,x-option-roms=off,isa-serial=on,rtc=off,pit=off,pic=off,acpi=off,pcie=off';

/** isa-debug-exit: a write of v to port 0xf4 ends QEMU with status (v << 1) | 1. */
export const DEBUG_EXIT_DEVICE = 'isa-debug-exit,iobase=0xf4,iosize=0x04';

export interface QemuArgvOptions {
  /** argv[0]; default qemu-system-x86_64 (resolved through PATH by spawn). */
  binary?: string;
  /**
   * Firmware for pc/q35 guests booted with -kernel (e.g. QBOOT_ROM, which starts them in about half
   * SeaBIOS's time). Not used for microvm, nor for guests booting from a disk (they need SeaBIOS).
   */
  bios?: string;
}

/** QEMU's option parser splits on ','; a literal comma in a value is written ',,'. */
export function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** The -qmp argument for a socket path; adopt() recognises a process by it. */
export function qmpArg(qmpSocket: string): string {
  return `unix:${qemuOptValue(qmpSocket)},server=on,wait=off`;
}

function machineArg(machine: MachineType): string {
  switch (machine) {
    case 'microvm':
      return MICROVM_MACHINE;
    case 'pc':
      return 'pc';
    case 'q35':
      return 'q35';
    default:
      throw invalid(`unknown machine type: ${String(machine)}`, 'machine');
  }
}

function positiveInt(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1) throw invalid(`${field} must be a positive integer, got ${value}`, field);
  return value;
}

export function qemuArgv(spec: BootSpec, paths: VmPaths, accel: Accelerator, opts: QemuArgvOptions = {}): string[] {
  const memoryMiB = positiveInt(spec.memoryMiB, 'memoryMiB');
  const cpus = positiveInt(spec.cpus, 'cpus');
  if (spec.kernel === undefined && spec.disks.length === 0) throw invalid('boot spec has neither a kernel nor a disk', 'kernel');
  if (spec.initrd !== undefined && spec.kernel === undefined) throw invalid('an initrd needs a kernel', 'initrd');

  const argv: string[] = [opts.binary ?? DEFAULT_QEMU_BINARY];
  const name = basename(paths.dir);
  if (name !== '') argv.push('-name', qemuOptValue(`cunik-${name}`));
  argv.push('-M', machineArg(spec.machine));
  if (accel === 'kvm') argv.push('-accel', 'kvm', '-cpu', 'host');
  else if (accel === 'tcg') argv.push('-accel', 'tcg', '-cpu', 'max');
  else throw invalid(`unknown accelerator: ${String(accel)}`, 'accel');
  argv.push('-m', String(memoryMiB), '-smp', String(cpus));
  argv.push('-nodefaults', '-no-user-config', '-nographic', '-no-reboot');

  if (spec.machine !== 'microvm' && spec.kernel !== undefined && opts.bios !== undefined) argv.push('-bios', opts.bios);
  if (spec.kernel !== undefined) argv.push('-kernel', spec.kernel);
  if (spec.initrd !== undefined) argv.push('-initrd', spec.initrd);
  if (spec.kernel !== undefined && spec.cmdline !== '') argv.push('-append', spec.cmdline);

  const blkDevice = spec.machine === 'microvm' ? 'virtio-blk-device' : 'virtio-blk-pci';
  spec.disks.forEach((disk, i) => {
    if (disk.format !== 'raw' && disk.format !== 'qcow2') throw invalid(`unknown disk format: ${String(disk.format)}`, `disks[${i}].format`);
    const id = `disk${i}`;
    argv.push(
      '-drive',
      `if=none,id=${id},file=${qemuOptValue(disk.path)},format=${disk.format},readonly=${disk.readonly ? 'on' : 'off'}`,
      '-device',
      `${blkDevice},drive=${id}`,
    );
  });

  // Serial console: QEMU writes the log itself, also while nobody is connected to the socket
  // (verified on QEMU 7.2, see docs/qemu.md); the socket is for attach/input.
  argv.push(
    '-chardev',
    `socket,id=con0,path=${qemuOptValue(paths.consoleSocket)},server=on,wait=off,logfile=${qemuOptValue(paths.consoleLog)},logappend=on`,
    '-serial',
    'chardev:con0',
  );
  argv.push('-qmp', qmpArg(paths.qmpSocket));
  argv.push('-pidfile', paths.pidfile);
  if (spec.debugExit) argv.push('-device', DEBUG_EXIT_DEVICE);
  return argv;
}
