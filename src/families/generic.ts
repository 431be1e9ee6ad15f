// The `generic` family: a multiboot or PVH ELF that takes its command line verbatim.
// Rules:
// - Machine: `microvm` (QEMU loads multiboot and PVH ELFs there without firmware), unless the
//   image's `org.cunik.machine` label says otherwise.
// - Command line: env as KEY=VALUE tokens, then the args (the instance's when given, else the
//   image's defaults), space-joined, as Linux passes unknown key=value tokens to its init.
// - Exit: through isa-debug-exit (iobase 0xf4): the guest writes v, QEMU exits (v << 1) | 1,
//   so an odd status s means the unikernel returned (s - 1) / 2. Status 0 is a plain QEMU exit
//   (guest reset with -no-reboot, or QMP quit); a signal maps to 128 + signal number (shell rule).
// - Volumes are refused: nothing tells such a kernel where to mount a device.
// - Kernel name: a multiboot loader writes the kernel's file name first on the command line, so
//   QEMU is given the kernel under the image's name (BootSpec.kernelName; PVH passes no name).
import { signalNumber } from '../util/signals.js';
import { invalid } from '../errors.js';
import type { BootSpec, MachineType, VmExit } from '../vmm/types.js';
import { programName } from './common.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';

const machines: readonly MachineType[] = ['microvm', 'pc', 'q35'];

export function machineFor(image: ImageBootInfo, fallback: MachineType): MachineType {
  const wanted = image.labels['org.cunik.machine'];
  return machines.includes(wanted as MachineType) ? (wanted as MachineType) : fallback;
}

/** Exit code of a guest that exits through isa-debug-exit. */
export function debugExitCode(exit: VmExit): number {
  if (exit.signal) return 128 + signalNumber(exit.signal);
  const status = exit.status ?? 0;
  if (status === 0) return 0;
  return status % 2 === 1 ? (status - 1) / 2 : status;
}

export const generic: FamilyAdapter = {
  name: 'generic',
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const args = instance.args.length > 0 ? instance.args : image.args;
    const env = [...image.env, ...instance.env];
    const machine = machineFor(image, 'microvm');
    if ((instance.volumes ?? []).length > 0) throw invalid('generic: volumes are not supported (the kernel is told of no mount points)', 'volumes');
    return {
      machine,
      ...(image.kernelPath !== undefined && { kernel: image.kernelPath, kernelName: programName(image) }),
      ...(image.initrdPath !== undefined && { initrd: image.initrdPath }),
      cmdline: [...env, ...args].join(' '),
      disks: [],
      memoryMiB: instance.memoryMiB ?? image.memoryMiB,
      cpus: instance.cpus ?? image.cpus,
      // The trimmed microvm has no ACPI, so no power button: stop goes straight to SIGTERM.
      powerdown: machine === 'microvm' ? 'none' : 'acpi',
      debugExit: true,
    };
  },
  exitCode: debugExitCode,
};
