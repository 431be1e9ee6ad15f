// The `solo5` family, virtio target (MirageOS and other Solo5 unikernels). Sources are Solo5/solo5
// (v0.9.x) docs/building.md and bindings/virtio/, and mirage/mirage lib_runtime:
// - Boot: a multiboot ELF with a .note.solo5.manifest naming its devices (include/mft_abi.h). The
//   image layer can read them with solo5ManifestDevices() into the label org.cunik.solo5.devices
//   ("net:service,block:storage"); without the label every NIC given is attached.
// - Command line: Solo5 drops the first word, the opaque name QEMU's multiboot loader puts there
//   (bindings/virtio/platform.c), and hands the rest to the app as one string; mirage-bootvar splits
//   it at blanks with no quoting, so args with blanks are refused. Leading --solo5:quiet|error|
//   warn|info|debug set the log level (bindings/cmdline.c).
// - Network: MirageOS takes --ipv4=ADDR/PREFIX and --ipv4-gateway=GW (lib_runtime/
//   mirage_runtime_network.ml). They are given only when the image declares a net device (or says
//   nothing), since cmdliner rejects unknown options; label org.cunik.solo5.ipv4-args=off turns them
//   off for non-Mirage apps. DNS is not passed (its option depends on the resolver library).
// - Devices: "a single virtio network device attached to the PCI bus", and one block device
//   (docs/building.md, virtio limitations): the first network and one block volume; folders
//   cannot be shared. Solo5 finds them by legacy PCI port I/O (bindings/virtio/pci.c).
// - Machine: pc. Checked with test_time built here: on microvm the TSC calibration hangs without
//   the PIT (bindings/virtio/tscclock.c uses the i8254), and with pit=on a sleep never wakes (Solo5
//   takes timer interrupts through the 8259 PIC). Firmware: SeaBIOS with devices, as qboot leaves the
//   I/O BARs unassigned (virtio-net showed base=0x0 and Solo5 aborted).
// - Exit: platform_exit writes 41 to isa-debug-exit at 0x501 whatever the status (QEMU exits 83
//   for success, failure and abort alike), then tries ACPI, then halts (bindings/virtio/
//   platform.c): the exit code is never known; it maps to 0 with known=false. Without the device
//   Solo5 would halt and QEMU stay up. No ACPI power button: stop goes straight to SIGTERM.
import type { BootSpec } from '../vmm/types.js';
import { appArgs, appEnv, blockDisks, blockVolumesOnly, devices, machineFor, nicsOf, pciFirmware, plainWords, refuse, requireFile, sizing, staticIp } from './common.js';
import { unknownExitStatus } from './exit.js';
import { parseSolo5DevicesLabel } from './solo5-manifest.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';

export const SOLO5_EXIT_NOTE = 'Solo5 on QEMU exits with status 83 whatever the unikernel returned: exit code unknown';
const solo5ExitStatus = unknownExitStatus(SOLO5_EXIT_NOTE);

export const solo5: FamilyAdapter = {
  name: 'solo5',
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const kernel = requireFile(image.kernelPath, 'solo5', 'a kernel (Solo5 virtio ELF)');
    const declared = parseSolo5DevicesLabel(image.labels['org.cunik.solo5.devices']);
    const wantsNet = declared === undefined || declared.some((d) => d.type === 'net');
    const nics = wantsNet ? nicsOf(instance).slice(0, 1) : [];

    const blocks = blockVolumesOnly(instance, 'solo5');
    refuse(blocks.length > 1, 'solo5: the virtio target drives a single block device', 'volumes');
    refuse(blocks.length > 0 && declared !== undefined && !declared.some((d) => d.type === 'block'), 'solo5: this unikernel declares no block device', 'volumes');
    refuse(appEnv(image, instance).length > 0, 'solo5: unikernels have no environment (pass settings as args)', 'env');

    const words: string[] = [];
    const net = staticIp(instance);
    if (net && nics.length > 0 && image.labels['org.cunik.solo5.ipv4-args'] !== 'off') {
      words.push(`--ipv4=${net.ip}/${net.prefix}`);
      if (net.gateway !== undefined) words.push(`--ipv4-gateway=${net.gateway}`);
    }
    words.push(...plainWords(appArgs(image, instance), 'solo5'));
    const machine = machineFor(image, 'pc');
    const disks = blockDisks(blocks);
    return {
      machine,
      kernel,
      cmdline: words.join(' '),
      disks,
      ...sizing(image, instance),
      powerdown: 'none',
      debugExit: true,
      debugExitPort: 0x501,
      ...pciFirmware(machine, nics.length + disks.length),
      ...devices(nics),
    };
  },
  exitCode: (exit) => solo5ExitStatus(exit).code,
  exitStatus: solo5ExitStatus,
};
