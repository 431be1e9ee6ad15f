// The `includeos` family. Sources are includeos/IncludeOS (src/kernel/service_stub.cpp,
// src/kernel/multiboot.cpp, src/chainload/service.cpp, src/musl/exit.cpp,
// src/platform/x86_pc/platform.cpp) and its README:
// - Boot: multiboot. QEMU loads no 64-bit ELF through multiboot, so a 64-bit service boots through
//   IncludeOS's 32-bit chainloader: the image's kernel is the chainloader and its initrd the
//   service, given as the first multiboot module; the chainloader makes that module the kernel and
//   the module's command line the kernel's (chainload/service.cpp promote_mod_to_kernel). A 32-bit
//   service (kernel only) boots directly.
// - Args: Service::start splits the command line at whitespace into main()'s argv with no quoting
//   (service_stub.cpp), argv[0] being the first word: the -kernel argument (QEMU's multiboot
//   loader) or, chainloaded, the module's file name; QEMU is given that file under the image's
//   name (BootSpec.kernelName, ModuleSpec.name), so argv[0] is the image's name, not a host path. Args with blanks, and commas in a module's line (QEMU splits
//   -initrd at commas), are refused. No environment can be passed.
// - Network: the service configures its interfaces itself (DHCP or its config.json, built in), so
//   only NICs are attached (virtio-net-pci); a static address given to the instance is not passed.
// - Block volumes are attached as virtio-blk-pci disks for the service to use; no 9p.
// - Machine: pc (PCI virtio, ACPI power-off); SeaBIOS when a virtio device is attached (the
//   drivers read the BARs the firmware assigned; qboot assigns no I/O BARs), else qboot.
// - Exit: exit(N) prints "Service exited with status N" and powers off through ACPI
//   (musl/exit.cpp, platform.cpp __arch_poweroff): QEMU exits 0, code unknown. The service does
//   not act on the ACPI power button, so stop goes to SIGTERM.
import type { BootSpec } from '../vmm/types.js';
import { appArgs, appEnv, blockDisks, blockVolumesOnly, devices, machineFor, nicsOf, pciFirmware, plainWords, programName, refuse, requireFile, sizing } from './common.js';
import { unknownExitStatus } from './exit.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';

export const INCLUDEOS_EXIT_NOTE = 'IncludeOS powers off through ACPI (its console shows "Service exited with status N"): exit code unknown';
const includeosExitStatus = unknownExitStatus(INCLUDEOS_EXIT_NOTE);

export const includeos: FamilyAdapter = {
  name: 'includeos',
  staticAddress: false,
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const kernel = requireFile(image.kernelPath, 'includeos', 'a kernel (the service, or the chainloader with the service as initrd)');
    refuse(appEnv(image, instance).length > 0, 'includeos: services have no environment', 'env');
    const blocks = blockVolumesOnly(instance, 'includeos');
    const args = plainWords(appArgs(image, instance), 'includeos');
    const chainload = image.initrdPath !== undefined;
    refuse(chainload && args.some((a) => a.includes(',')), 'includeos: QEMU cannot pass a comma in a multiboot module\'s command line', 'args');
    const machine = machineFor(image, 'pc');
    const disks = blockDisks(blocks);
    const nics = nicsOf(instance);
    return {
      machine,
      kernel,
      ...(chainload
        ? { modules: [{ path: image.initrdPath!, name: programName(image), ...(args.length > 0 && { cmdline: args.join(' ') }) }] }
        : { kernelName: programName(image) }),
      cmdline: chainload ? '' : args.join(' '),
      disks,
      ...sizing(image, instance),
      powerdown: 'none',
      debugExit: false,
      ...pciFirmware(machine, disks.length + nics.length),
      ...devices(nics),
    };
  },
  exitCode: (exit) => includeosExitStatus(exit).code,
  exitStatus: includeosExitStatus,
};
