// The `nanos` family: a raw disk image (MBR, bootloader, kernel, TFS file system) as built by ops
// or nanos' own mkfs. Sources are nanovms/nanos (platform/pc/Makefile, src/kernel/init.c,
// platform/pc/service.c, src/net/net.c) and nanovms/ops (qemu/qemu_unix.go):
// - Disk: virtio-blk-pci on pc, as nanos' Makefile does for STORAGE=virtio-blk (ops uses
//   virtio-scsi on q35). Nanos writes to its disk at boot, so the disk is a per-instance qcow2
//   overlay backed by the image's raw file (or qcow2: label org.cunik.disk-format, set at import),
//   created by the driver (vmm/qemu/overlay.ts); the image is never written.
// - Boot: from the disk through SeaBIOS and nanos' own bootloader (no -kernel, so nothing can be
//   passed on a command line: args and env live in the image's manifest, and instance args or env
//   are refused). An image that also carries the PVH kernel (kernel.img) boots it directly with
//   the disk attached, as nanos' Makefile does for microvm (KERNEL_BOOT=1); then the command line
//   is applied to the root tuple (platform/pc/service.c boot_params_apply, src/kernel/init.c
//   cmdline_apply): env as environment.KEY=VALUE, a static IPv4 as ipaddr=, netmask=, gateway=
//   (src/net/net.c get_static_config; DHCP without). Values cannot contain blanks.
// - microvm (label org.cunik.machine=microvm, needs the PVH kernel): upstream's
//   "microvm,rtc=on,ioapic2=off" with QEMU's defaults otherwise (so ACPI, PIT and PIC on) and
//   -global virtio-mmio.force-legacy=false, disk on virtio-blk-device (platform/pc/Makefile).
// - Exit: with debug_exit in its manifest nanos writes the app's status to isa-debug-exit at 0x501
//   (src/kernel/kvm_platform.h QEMU_HALT: out8(0x501, code)); QEMU exits (code << 1) | 1. Without
//   it nanos powers off through ACPI (QEMU exits 0: code unknown). Stop presses the ACPI button.
import type { BootSpec } from '../vmm/types.js';
import { appEnv, devices, imageOverlay, machineFor, netmask, nicsOf, refuse, requireFile, sizing, staticIp, volumesOf } from './common.js';
import { debugExitCode } from './generic.js';
import { debugExitStatus } from './exit.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';

export const nanos: FamilyAdapter = {
  name: 'nanos',
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const disk = requireFile(image.diskPath, 'nanos', 'a disk image');
    // boot 'disk': the image is the disk alone (its kernel artefact is that same file).
    const kernel = image.boot !== 'disk' ? image.kernelPath : undefined;
    const machine = machineFor(image, 'pc');
    refuse(machine === 'microvm' && kernel === undefined, 'nanos on microvm needs the PVH kernel (kernel.img) in the image', 'machine');
    refuse(instance.args.length > 0, 'nanos takes its args from the image manifest (rebuild the image to change them)', 'args');
    const { blocks, shares } = volumesOf(instance);
    refuse(blocks.length + shares.length > 0, 'nanos: volumes are named in the image manifest (mounts), not attached at run time', 'volumes');

    const words: string[] = [];
    if (kernel !== undefined) {
      const net = staticIp(instance);
      if (net) {
        words.push(`ipaddr=${net.ip}`, `netmask=${netmask(net.prefix)}`);
        if (net.gateway !== undefined) words.push(`gateway=${net.gateway}`);
      }
      for (const [key, value] of appEnv({ ...image, env: [] }, instance)) {
        refuse(/[\s.]/.test(key) || /\s/.test(value), `nanos: env ${key} cannot go on its command line (no blanks or dots)`, 'env');
        words.push(`environment.${key}=${value}`);
      }
    } else {
      refuse(instance.env.length > 0, 'nanos booted from its disk takes env from the image manifest only', 'env');
    }
    const microvm = machine === 'microvm';
    return {
      machine,
      ...(kernel !== undefined && { kernel }),
      cmdline: words.join(' '),
      disks: [imageOverlay(disk, image.labels['org.cunik.disk-format'] === 'qcow2' ? 'qcow2' : 'raw', kernel === undefined)],
      ...sizing(image, instance),
      powerdown: 'acpi',
      debugExit: true,
      debugExitPort: 0x501,
      ...(microvm && {
        machineOptions: { acpi: 'on', pit: 'on', pic: 'on', rtc: 'on', ioapic2: 'off' },
        globals: ['virtio-mmio.force-legacy=false'],
      }),
      ...devices(nicsOf(instance)),
    };
  },
  exitCode: debugExitCode,
  exitStatus: debugExitStatus,
};
