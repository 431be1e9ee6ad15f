// The `solo5` family, virtio target (MirageOS and other Solo5 unikernels). Sources are Solo5/solo5
// (v0.9.x) docs/building.md and bindings/virtio/, and mirage/mirage lib_runtime:
// - Boot: a multiboot ELF with a .note.solo5.manifest naming its devices (include/mft_abi.h).
//   `cunik import` reads them (solo5ManifestDevices) into the label org.cunik.solo5.devices
//   ("net:service,block:storage") and each block device into a declared volume /NAME.
// - Devices: exactly the declared ones, in manifest order on PCI slots 2, 3... The virtio bindings
//   match the i-th virtio PCI device they enumerate to the i-th manifest entry and abort when its
//   type differs or it is not declared ("Virtio net: PCI:00:02 not in manifest", then "PCI
//   enumeration failed. Aborting."), and abort when a declared device is missing ("All declared
//   devices must be attached", bindings/virtio/pci.c, start.c). So a net device takes the next
//   instance network (one is required), a block device the block volume mounted at /NAME (else the
//   next one; one is required); networks beyond the declared ones are not attached. An image
//   without the label (imported before) gets the first NIC and one block volume.
// - Command line: Solo5 drops the first word, the opaque name QEMU's multiboot loader puts there
//   (bindings/virtio/platform.c; the image's name, BootSpec.kernelName, as for every multiboot family), and hands the rest to the app as one string; mirage-bootvar splits
//   it at blanks with no quoting, so args with blanks are refused. Leading --solo5:quiet|error|
//   warn|info|debug set the log level (bindings/cmdline.c).
// - Network: MirageOS takes --ipv4=ADDR/PREFIX and --ipv4-gateway=GW (lib_runtime/
//   mirage_runtime_network.ml). They are given only when the image declares a net device (or says
//   nothing), since cmdliner rejects unknown options; label org.cunik.solo5.ipv4-args=off turns them
//   off for non-Mirage apps. DNS is not passed (its option depends on the resolver library).
//   Folders cannot be shared. Solo5 finds devices by legacy PCI port I/O (bindings/virtio/pci.c).
// - Machine: pc. Checked with test_time built here: on microvm the TSC calibration hangs without
//   the PIT (bindings/virtio/tscclock.c uses the i8254), and with pit=on a sleep never wakes (Solo5
//   takes timer interrupts through the 8259 PIC). Firmware: SeaBIOS with devices, as qboot leaves the
//   I/O BARs unassigned (virtio-net showed base=0x0 and Solo5 aborted).
// - Exit: platform_exit writes 41 to isa-debug-exit at 0x501 whatever the status (QEMU exits 83
//   for success, failure and abort alike), then tries ACPI, then halts (bindings/virtio/
//   platform.c). The code is on the console: "Solo5: solo5_exit(N) called" (bindings/exit.c, log
//   level info), "Solo5: solo5_abort() called" and "Solo5: ABORT: ..." (abort.c, crt.c) for
//   SOLO5_EXIT_ABORT, 255 (include/solo5.h). Without such a line (--solo5:quiet) it is unknown: 0
//   with known=false. No ACPI power button: stop goes straight to SIGTERM.
import type { BootSpec, DiskSpec, NicSpec } from '../vmm/types.js';
import { appArgs, appEnv, blockDisks, blockVolumesOnly, devices, machineFor, nicsOf, pciFirmware, plainWords, programName, refuse, requireFile, sizing, staticIp } from './common.js';
import { unknownExitStatus } from './exit.js';
import { parseSolo5DevicesLabel, type Solo5Device } from './solo5-manifest.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig, InstanceVolume } from './types.js';

export const SOLO5_EXIT_NOTE = 'Solo5 on QEMU exits with status 83 whatever the unikernel returned, and it printed no solo5_exit line: exit code unknown';
const solo5ExitStatus = unknownExitStatus(SOLO5_EXIT_NOTE);

/** The first PCI slot Solo5's devices take (0 and 1 are the host and ISA bridges), as solo5-virtio-run.sh. */
const FIRST_SLOT = 2;
/** SOLO5_EXIT_ABORT (include/solo5.h): what solo5-hvt exits with for an abort. */
export const SOLO5_ABORT_CODE = 255;

const EXIT_LINE = /Solo5: solo5_exit\((-?\d{1,10})\) called/;
const ABORT_LINE = /Solo5: (?:solo5_abort\(\) called|ABORT: )/;

/** The exit code a Solo5 console line reports (the status as a process's 8 bits), or undefined. */
export function solo5ExitFromConsole(line: string): { code: number } | undefined {
  const m = EXIT_LINE.exec(line);
  if (m) return { code: ((Number(m[1]) % 256) + 256) % 256 };
  return ABORT_LINE.test(line) ? { code: SOLO5_ABORT_CODE } : undefined;
}

/** The declared devices in manifest order, each backed by a network or a block volume, on consecutive PCI slots. */
function manifestDevices(declared: Solo5Device[], networks: NicSpec[], blocks: InstanceVolume[]): { nics: NicSpec[]; disks: DiskSpec[] } {
  const wanted = declared.filter((d) => d.type === 'block');
  refuse(wanted.length === 0 && blocks.length > 0, 'solo5: this unikernel declares no block device', 'volumes');
  refuse(blocks.length > wanted.length, `solo5: this unikernel declares ${wanted.length} block device(s) (${wanted.map((d) => d.name).join(', ')}): ${blocks.length} block volumes cannot all be attached`, 'volumes');
  // A volume mounted at /NAME backs device NAME; the others back the rest in order.
  const backing = new Map<string, number>();
  const free = blocks.map((_, i) => i).filter((i) => {
    const d = wanted.find((w) => `/${w.name}` === blocks[i]!.target && !backing.has(w.name));
    if (d) backing.set(d.name, i);
    return d === undefined;
  });
  for (const d of wanted) if (!backing.has(d.name) && free.length > 0) backing.set(d.name, free.shift()!);
  const nics: NicSpec[] = [];
  const disks: DiskSpec[] = [];
  declared.forEach((d, i) => {
    const pciSlot = FIRST_SLOT + i;
    if (d.type === 'net') {
      const nic = networks[nics.length];
      refuse(nic === undefined, `solo5: this unikernel declares network device "${d.name}": it needs a network (it cannot run with --network none)`, 'network');
      nics.push({ ...nic!, pciSlot });
    } else {
      const at = backing.get(d.name);
      refuse(at === undefined, `solo5: this unikernel declares block device "${d.name}": attach a block volume for it (-v VOLUME:/${d.name})`, 'volumes');
      disks.push({ ...blockDisks([blocks[at!]!])[0]!, serial: `vol${at}`, pciSlot });
    }
  });
  return { nics, disks };
}

export const solo5: FamilyAdapter = {
  name: 'solo5',
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const kernel = requireFile(image.kernelPath, 'solo5', 'a kernel (Solo5 virtio ELF)');
    const declared = parseSolo5DevicesLabel(image.labels['org.cunik.solo5.devices']);
    const blocks = blockVolumesOnly(instance, 'solo5');
    refuse(appEnv(image, instance).length > 0, 'solo5: unikernels have no environment (pass settings as args)', 'env');
    let nics: NicSpec[];
    let disks: DiskSpec[];
    if (declared === undefined) {
      refuse(blocks.length > 1, 'solo5: the virtio target drives a single block device', 'volumes');
      nics = nicsOf(instance).slice(0, 1);
      disks = blockDisks(blocks);
    } else {
      ({ nics, disks } = manifestDevices(declared, nicsOf(instance), blocks));
    }

    const words: string[] = [];
    const net = staticIp(instance);
    if (net && nics.length > 0 && image.labels['org.cunik.solo5.ipv4-args'] !== 'off') {
      words.push(`--ipv4=${net.ip}/${net.prefix}`);
      if (net.gateway !== undefined) words.push(`--ipv4-gateway=${net.gateway}`);
    }
    words.push(...plainWords(appArgs(image, instance), 'solo5'));
    const machine = machineFor(image, 'pc');
    return {
      machine,
      kernel,
      kernelName: programName(image),
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
  exitFromConsole: solo5ExitFromConsole,
};
