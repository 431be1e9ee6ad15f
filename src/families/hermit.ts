// The `hermit` family: the Hermit loader (x86_64-multiboot build) as the kernel and the Hermit
// app (an ELF) as the initrd. Sources are hermit-os/loader README.md ("Running", "Providing
// Arguments") and src/arch/x86_64/platform/multiboot, hermit-os/kernel src/env/mod.rs and
// src/arch/x86_64/kernel/processor.rs:
// - Boot: "-kernel <LOADER> -initrd <APP>" with isa-debug-exit at 0xf4 (README); the loader hands
//   its multiboot command line to the kernel as bootargs.
// - Command line: "[KERNEL_ARGS] [--] [APP_ARGS]" (README), split like a POSIX shell (Shlex in
//   env/mod.rs), so words are shell-quoted. The first plain word is taken as the image path, and
//   QEMU's multiboot loader puts the -kernel argument there: the loader is given to QEMU under
//   the image's name (BootSpec.kernelName), not a host path. Kernel args used: -freq MHZ (the TSC
//   frequency, from instance.tscKhz, so the kernel need not measure it), -ip ADDR -mask NETMASK
//   -gateway GW for a static address (DHCP otherwise), env=KEY=VALUE per variable; app args
//   follow "--".
// - Machine: pc (the README's plain qemu-system-x86_64); microvm by label only, untested here.
//   qboot unless a NIC is attached, then SeaBIOS (the virtio-net driver reads the BARs the firmware
//   assigned; qboot assigns no I/O BARs). Volumes are not supported
//   (Hermit's virtio-fs needs virtiofsd).
// - Exit: shutdown writes 1 to isa-debug-exit when the app returned 0, else 0 (processor.rs
//   qemu_exit), so QEMU exits 3 for success (code 0) and 1 for any failure: mapped to 1 and marked
//   unknown, as the app's own code is not reported. Status 0 (ACPI power-off, SIGTERM) is unknown.
import type { BootSpec, VmExit } from '../vmm/types.js';
import { appArgs, appEnv, devices, machineFor, netmask, nicsOf, pciFirmware, programName, refuse, requireFile, shQuote, sizing, staticIp, volumesOf } from './common.js';
import { NO_REPORT, signalStatus } from './exit.js';
import type { ExitStatus, FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';

export function hermitExitStatus(exit: VmExit): ExitStatus {
  if (exit.signal) return signalStatus(exit.signal);
  switch (exit.status) {
    case 3:
      return { code: 0, known: true };
    case 1:
      return { code: 1, known: false, note: 'Hermit reports a failure without the app\'s exit code' };
    case 0:
    case null:
      return { code: 0, known: false, note: NO_REPORT };
    default:
      return { code: exit.status, known: false, note: `QEMU exited with status ${exit.status}` };
  }
}

export const hermit: FamilyAdapter = {
  name: 'hermit',
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const loader = requireFile(image.kernelPath, 'hermit', 'the Hermit loader as kernel');
    const app = requireFile(image.initrdPath, 'hermit', 'the app as initrd');
    const { blocks, shares } = volumesOf(instance);
    refuse(blocks.length + shares.length > 0, 'hermit: volumes are not supported', 'volumes');
    const words: string[] = [];
    if (instance.tscKhz !== undefined) words.push('-freq', String(Math.round(instance.tscKhz / 1000)));
    const net = staticIp(instance);
    if (net) {
      words.push('-ip', net.ip, '-mask', netmask(net.prefix));
      if (net.gateway !== undefined) words.push('-gateway', net.gateway);
    }
    for (const [key, value] of appEnv(image, instance)) words.push(shQuote(`env=${key}=${value}`));
    const args = appArgs(image, instance);
    if (args.length > 0) words.push('--', ...args.map(shQuote));
    const machine = machineFor(image, 'pc');
    const nics = nicsOf(instance);
    return {
      machine,
      kernel: loader,
      kernelName: programName(image),
      modules: [{ path: app }],
      cmdline: words.join(' '),
      disks: [],
      ...sizing(image, instance),
      powerdown: 'none',
      debugExit: true,
      ...pciFirmware(machine, nics.length),
      ...devices(nics),
    };
  },
  exitCode: (exit) => hermitExitStatus(exit).code,
  exitStatus: hermitExitStatus,
};
