// The `rumprun` family (hw platform, x86): a multiboot ELF with the app baked in. Sources are
// rumpkernel/rumprun doc/config.md, app-tools/rumprun (run_qemu), lib/librumprun_base/config.c,
// parseargs.c and platform/hw/kernel.c:
// - Configuration is JSON on the multiboot command line, from its first "{" (config.md, "hw
//   platform on x86"): "cmdline" (argv including argv[0], which the adapter sets to the -kernel
//   path as the rumprun tool does), one "env": "K=V" key per variable and one "net" / "blk" block
//   per device (the tool repeats keys too; config.c walks the tokens, so repeats are fine).
// - Strings are taken raw (config.c token2cstr does not unescape), and cmdline words are split by
//   rumprun_parseargs: blanks separate, quotes group, "\" escapes the next character. So a word
//   with blanks goes in single quotes, '"' and '\' are written \" and \\ (valid JSON escapes that
//   parseargs reads back), and a single quote cannot be passed.
// - Network: vioif0... (virtio-net-pci, legacy PCI), "method": "static" with "addr", "mask" (a
//   prefix length) and "gw", else "dhcp" (config.c config_ipv4).
// - Volumes: block devices ld0a... mounted by "blk": {"source": "dev", "path": "/dev/ldNa",
//   "fstype": "blk", "mountpoint": ...} (app-tools/rumprun json_store_qemu_blkspec); no 9p.
// - Machine: pc (rumprun's hw platform programs the PIC, PIT and legacy PCI); SeaBIOS when a
//   virtio device is attached (rumprun does not assign PCI BARs, qboot assigns no I/O BARs), else
//   qboot, which starts the guest in about half SeaBIOS's time.
// - Exit: when main() returns rumprun prints '=== main() of "NAME" returned N ===' and halts the
//   CPU forever (lib/librumprun_base/rumprun.c, platform/hw/kernel.c bmk_platform_halt): QEMU never
//   exits on its own; the instance runs until stopped (SIGTERM, no ACPI) and its code is unknown.
import type { BootSpec } from '../vmm/types.js';
import { appArgs, appEnv, blockDisks, blockVolumesOnly, devices, machineFor, nicsOf, pciFirmware, refuse, requireFile, sizing, staticIp } from './common.js';
import { unknownExitStatus } from './exit.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';

export const RUMPRUN_EXIT_NOTE = 'rumprun halts after main() returns and never exits QEMU (its console shows the code): exit code unknown';
const rumprunExitStatus = unknownExitStatus(RUMPRUN_EXIT_NOTE);

/** A JSON string whose raw text (what rumprun reads) is `raw`: only \" and \\ need escaping. */
const jsonRaw = (raw: string): string => `"${raw}"`;

/** One word as rumprun_parseargs reads it back from the raw JSON text. */
export function rumprunWord(word: string): string {
  refuse(word.includes("'") || /[\x00-\x1f]/.test(word), `rumprun cannot pass ${JSON.stringify(word)} (single quote or control character)`, 'args');
  const escaped = word.replace(/[\\"]/g, (c) => `\\${c}`);
  return word === '' || /[ ]/.test(word) ? `'${escaped}'` : escaped;
}

function field(value: string, name: string): string {
  refuse(/["\\\x00-\x1f]/.test(value), `rumprun: ${name} cannot carry quotes, backslashes or control characters`, name);
  return jsonRaw(value);
}

export const rumprun: FamilyAdapter = {
  name: 'rumprun',
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const kernel = requireFile(image.kernelPath, 'rumprun', 'a kernel (multiboot ELF)');
    const blocks = blockVolumesOnly(instance, 'rumprun');
    const parts: string[] = [];
    for (const [key, value] of appEnv(image, instance)) parts.push(`"env": ${field(`${key}=${value}`, 'env')}`);
    (instance.networks ?? []).forEach((_, i) => {
      const net = staticIp(instance, i);
      const cfg = [`"if": "vioif${i}"`, '"type": "inet"', `"method": "${net ? 'static' : 'dhcp'}"`];
      if (net) {
        cfg.push(`"addr": "${net.ip}"`, `"mask": "${net.prefix}"`);
        if (net.gateway !== undefined) cfg.push(`"gw": "${net.gateway}"`);
      }
      parts.push(`"net": {${cfg.join(', ')}}`);
    });
    blocks.forEach((v, i) =>
      parts.push(`"blk": {"source": "dev", "path": "/dev/ld${i}a", "fstype": "blk", "mountpoint": ${field(v.target, 'volumes')}}`));
    const argv = [kernel, ...appArgs(image, instance)].map(rumprunWord).join(' ');
    parts.push(`"cmdline": ${jsonRaw(argv)}`);
    const machine = machineFor(image, 'pc');
    const disks = blockDisks(blocks);
    const nics = nicsOf(instance);
    return {
      machine,
      kernel,
      cmdline: `{${parts.join(', ')}}`,
      disks,
      ...sizing(image, instance),
      powerdown: 'none',
      debugExit: false,
      ...pciFirmware(machine, disks.length + nics.length),
      ...devices(nics),
    };
  },
  exitCode: (exit) => rumprunExitStatus(exit).code,
  exitStatus: rumprunExitStatus,
};
