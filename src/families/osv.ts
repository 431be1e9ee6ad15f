// The `osv` family: an OSv disk image (qcow2 by default; label org.cunik.disk-format) plus, for
// the fast path, its PVH loader (loader.elf / loader-stripped.elf). Sources are
// cloudius-systems/osv scripts/run.py, loader.cc, core/commands.cc, arch/x64/power.cc:
// - Boot: "-kernel loader.elf -append <cmdline>" with the disk attached (run.py --kernel, PVH):
//   the app starts in about 0.1 s against 2.6 s through the BIOS (issue 5's figures). An image without the loader
//   boots from its disk through SeaBIOS; its command line is then the one written into the image
//   (run.py: imgedit.py setargs), so instance args and env are refused. With the loader, that
//   command line (read at import into org.cunik.osv.cmdline: the disk from byte 512, as
//   imgedit.py getargs) is the default command, as run.py passes build/<mode>/cmdline.
// - Disk: virtio-blk-pci; a per-instance qcow2 overlay backed by the image's disk, never written.
//   Block volumes follow as /dev/vblk1... mounted with --mount-fs=FS,/dev/vblkN,/PATH (loader.cc;
//   FS defaults to ext, as in OSv's README). Folders (virtio-fs) are not supported.
// - Machine: pc with SeaBIOS, as run.py (qboot is not checked with OSv). microvm (label) boots only under KVM: OSv needs the paravirtual clock there and
//   halts under TCG; then --nopci, virtio-blk-device and -global virtio-mmio.force-legacy=off
//   (run.py qemu_microvm).
// - Loader options come first, each a word starting with "-"; the first word that does not is the
//   app's command (core/commands.cc loader_parse_cmdline). Option values escape blanks with "\"
//   (libc/string/stresep.c, which cannot keep a backslash). --rootfs=FS from the label
//   org.cunik.osv.rootfs; --env=K=V per variable; --ip=eth0,ADDR,NETMASK --defaultgw=GW
//   --nameserver=DNS for a static address, DHCP otherwise (loader.cc).
// - App words: plain, or in double quotes with \" and \\ (core/commands.cc grammar, where ";",
//   "&" and "!" separate commands).
// - Exit: OSv always powers off through ACPI (arch/x64/power.cc), so QEMU exits 0 whatever the app
//   returned: code unknown. Stop presses the ACPI power button (none on microvm).
import type { BootSpec } from '../vmm/types.js';
import { appArgs, appEnv, blockDisks, blockVolumesOnly, devices, imageOverlay, machineFor, netmask, nicsOf, refuse, requireFile, seabios, sizing, staticIp } from './common.js';
import { unknownExitStatus } from './exit.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';

export const OSV_EXIT_NOTE = 'OSv powers off through ACPI whatever the app returned: exit code unknown';
const osvExitStatus = unknownExitStatus(OSV_EXIT_NOTE);

function option(word: string): string {
  refuse(word.includes('\\'), `osv: a loader option cannot carry a backslash: ${word}`, 'env');
  return word.replace(/([ \t\n])/g, '\\$1');
}

/** One word of the app's command, as core/commands.cc reads it back. */
export function osvQuote(word: string): string {
  if (word !== '' && !/[\s;&!"\\]/.test(word)) return word;
  return `"${word.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export const osv: FamilyAdapter = {
  name: 'osv',
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const disk = requireFile(image.diskPath, 'osv', 'a disk image');
    // boot 'disk': the image is the disk alone (its kernel artefact is that same file).
    const kernel = image.boot !== 'disk' ? image.kernelPath : undefined;
    const machine = machineFor(image, 'pc');
    const microvm = machine === 'microvm';
    refuse(microvm && kernel === undefined, 'osv on microvm needs the loader (loader.elf) in the image', 'machine');
    const blocks = blockVolumesOnly(instance, 'osv', 'virtio-fs is not supported here');
    const words: string[] = [];
    if (kernel !== undefined) {
      const rootfs = image.labels['org.cunik.osv.rootfs'];
      if (rootfs !== undefined) words.push(option(`--rootfs=${rootfs}`));
      if (microvm) words.push('--nopci');
      const net = staticIp(instance);
      if (net) {
        words.push(`--ip=eth0,${net.ip},${netmask(net.prefix)}`);
        if (net.gateway !== undefined) words.push(`--defaultgw=${net.gateway}`);
        if (net.dns[0] !== undefined) words.push(`--nameserver=${net.dns[0]}`);
      }
      blocks.forEach((v, i) => words.push(option(`--mount-fs=${v.fstype ?? 'ext'},/dev/vblk${i + 1},${v.target}`)));
      for (const [key, value] of appEnv(image, instance)) words.push(option(`--env=${key}=${value}`));
      const args = appArgs(image, instance);
      refuse(args[0]?.startsWith('-') === true, 'osv: the command cannot start with "-" (the loader would take it as an option)', 'args');
      const stored = image.labels['org.cunik.osv.cmdline'];
      if (args.length === 0 && stored !== undefined) words.push(stored);
      else words.push(...args.map(osvQuote));
    } else {
      refuse(instance.args.length + instance.env.length + blocks.length > 0, 'osv booted from its disk takes args and env from the image only (add the loader to pass them)', 'args');
    }
    const format = image.labels['org.cunik.disk-format'] === 'raw' ? 'raw' : 'qcow2';
    return {
      machine,
      ...(kernel !== undefined && { kernel }),
      cmdline: words.join(' '),
      disks: [imageOverlay(disk, format, kernel === undefined), ...blockDisks(blocks)],
      ...sizing(image, instance),
      powerdown: microvm ? 'none' : 'acpi',
      debugExit: false,
      ...seabios(machine),
      ...(microvm && { globals: ['virtio-mmio.force-legacy=off'] }),
      ...devices(nicsOf(instance)),
    };
  },
  exitCode: (exit) => osvExitStatus(exit).code,
  exitStatus: osvExitStatus,
};
