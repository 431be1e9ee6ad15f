// The `rumprun` family (hw platform, x86): a multiboot ELF with the app baked in. Sources are
// rumpkernel/rumprun doc/config.md, app-tools/rumprun (run_qemu), lib/librumprun_base/config.c,
// parseargs.c and platform/hw/kernel.c:
// - Configuration is JSON on the multiboot command line, from its first "{" (config.md, "hw
//   platform on x86"): "cmdline" (argv including argv[0], the image's name: the rumprun tool puts
//   the unikernel's path there, and a host path of the instance's files means nothing to the app),
//   one "env": "K=V" key per variable and one "net" / "blk" block
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
// - Exit: when main() returns rumprun prints '=== main() of "NAME" returned N ===', exit(N) prints
//   '=== _exit(N) called ===' ('=== ERROR: _exit(N) called ===' for N != 0; lib/librumprun_base/
//   rumprun.c, syscall_misc.c), the rump kernel reboots and bmk_platform_halt prints "halted" (after
//   "PANIC: ..." on a panic) and halts the CPU forever (platform/hw/kernel.c): QEMU never exits on
//   its own. The runtime reads the code from those lines (rumprunExitFromConsole; a panic is 255)
//   and stops the VM once one is printed (instances/console-exit.ts). Stop: SIGTERM.
import type { BootSpec } from '../vmm/types.js';
import { appArgs, appEnv, blockDisks, blockVolumesOnly, devices, machineFor, nicsOf, pciFirmware, programName, refuse, requireFile, sizing, staticIp } from './common.js';
import { unknownExitStatus } from './exit.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';

export const RUMPRUN_EXIT_NOTE = 'rumprun halts after main() returns and never exits QEMU, and it printed no _exit line: exit code unknown';
const rumprunExitStatus = unknownExitStatus(RUMPRUN_EXIT_NOTE);

const EXIT_LINE = /^=== (?:ERROR: )?_exit\((-?\d{1,10})\) called ===$/;
const MAIN_RETURNED = /^=== main\(\) of ".*" returned (-?\d{1,10}) ===$/;
const PANIC_LINE = /^PANIC: /;
/** What a panic is recorded as: no app code exists; 255 as Solo5 scores an abort. */
export const RUMPRUN_PANIC_CODE = 255;

/** The exit code a rumprun console line reports (the status's low 8 bits), or undefined. */
export function rumprunExitFromConsole(line: string): { code: number } | undefined {
  const text = line.trim();
  const m = EXIT_LINE.exec(text) ?? MAIN_RETURNED.exec(text);
  if (m) return { code: ((Number(m[1]) % 256) + 256) % 256 };
  return PANIC_LINE.test(text) ? { code: RUMPRUN_PANIC_CODE } : undefined;
}

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
    const argv = [programName(image), ...appArgs(image, instance)].map(rumprunWord).join(' ');
    parts.push(`"cmdline": ${jsonRaw(argv)}`);
    const machine = machineFor(image, 'pc');
    const disks = blockDisks(blocks);
    const nics = nicsOf(instance);
    return {
      machine,
      kernel,
      // The word before the JSON (QEMU's multiboot loader puts the -kernel argument there): no host path either.
      kernelName: programName(image),
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
  exitFromConsole: rumprunExitFromConsole,
};
