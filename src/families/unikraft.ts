// The `unikraft` family: a multiboot ELF (a 32-bit entry wrapping the 64-bit kernel). Sources are
// unikraft/unikraft (RELEASE-0.17.0 and staging) unless said otherwise:
// - Machine: pc unless org.cunik.machine says otherwise: 0.16.x asserts at once on microvm
//   ("Assertion failure: ml->flags == mr->flags", plat/common/memory.c).
// - argv[0] is the first command-line word, which QEMU's multiboot loader sets to the -kernel
//   argument (hw/i386/multiboot.c), so the adapter never adds one: QEMU is given the kernel under
//   the image's name (BootSpec.kernelName), which the app then sees as argv[0].
// - Library parameters: "lib.param=value ... -- app args" (lib/ukboot/early_init.c): parameters are
//   parsed only if a "--" follows them, and then dropped from argv; an unknown one is warned about
//   and skipped (lib/uklibparam/parser.c). So "--" is written only with parameters, and app args
//   containing "--" without parameters are refused (Unikraft would take the words before it).
//   Arrays use the list form "p=[ a b ]", as KraftKit writes them; an element cannot end in "]".
// - Words are split like a POSIX shell (lib/ukargparse/argparse.c: quotes and backslashes), so
//   args are shell-quoted; an empty arg cannot be passed (quotes alone make no word).
// - Network: netdev.ip=CIDR[:GW[:DNS0[:DNS1]]], one per netdev in order (lib/uknetdev/netdev.c,
//   "IPv4 einfo: cidr[:gw[:dns0[:dns1[:hostname[:domain]]]]]"); without it the stack uses DHCP.
// - Env: env.vars=[ "K=V" ... ] (lib/posix-environ/environ.c, prefix "env").
// - Firmware: SeaBIOS, never qboot: checked with 0.17.0's helloworld built here, under qboot
//   Unikraft stops at once ("Assertion failure: (md)->pg_count * 0x1000UL == (md)->len",
//   lib/ukboot/boot.c, on qboot's memory map); with SeaBIOS it runs.
// - Volumes: host folders over 9p, mounted by vfs.fstab=[ "TAG:/PATH:9pfs" ] (lib/vfscore/
//   automount.c, "dev:path:fs[:flags[:opts[:ukopts]]]"). Block volumes are refused.
// - Exit: plat/common/x86/cpu_native.c first tries an ACPI power-off (outw 0x604, 0x2000: QEMU exits
//   0 on pc), then writes 41 (normal) or 42 (crash, before the power-off) as a 16-bit value to
//   isa-debug-exit at 0x501: QEMU exits 83 or 85. The app's own code is not reported: 0 and 83 map
//   to 0 (unknown), 85 to 139, the code of a process that died of SIGSEGV (as Solo5's tests score a
//   crashed unikernel), also marked unknown. Any other odd status is a code the app wrote itself.
// - Libraries: `cunik import`/`build` record the kernel's linked libraries (.uk_libinfo, 0.16+:
//   families/unikraft-libinfo.ts) in org.cunik.unikraft.libs. With that label a NIC is attached only
//   if libuknetdev is linked, library parameters (and "--") are written only if libuklibparam is
//   (without it ukboot hands every word to the app), 9p shares need libvfscore and lib9pfs, and a
//   kernel with libukrandom (0.17+) needs RDRAND and RDSEED, which QEMU 7.2's TCG lacks ("Could not
//   initialize the HWRNG (-95)"): it is started only under KVM. Without the label (an image
//   imported before, or a kernel without the section) every library is assumed present.
import type { BootSpec, NicSpec, VmExit } from '../vmm/types.js';
import { appArgs, appEnv, devices, machineFor, nicsOf, programName, refuse, requireFile, seabios, shareSpecs, shQuote, sizing, staticIp, volumesOf } from './common.js';
import { signalStatus } from './exit.js';
import { parseUnikraftLibsLabel } from './unikraft-libinfo.js';
import type { ExitStatus, FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';

export const UNIKRAFT_CRASH_CODE = 139;
export const UNIKRAFT_LIBS_LABEL = 'org.cunik.unikraft.libs';
export const UNIKRAFT_RNG_KVM_ONLY = 'this Unikraft kernel links libukrandom (Unikraft 0.17 or later), which needs the RDRAND and RDSEED instructions that QEMU\'s software emulation (TCG) lacks: it boots only with KVM';

const NO_LIBPARAM = 'this Unikraft kernel has no library-parameter parser (libuklibparam)';
const NO_NETDEV = 'this Unikraft kernel has no network device library (libuknetdev)';

const publishes = (n: NicSpec): boolean => (n.backend.type === 'passt' ? n.backend.forwards.length > 0 : n.backend.type === 'user' && (n.backend.hostfwd?.length ?? 0) > 0);

function list(param: string, values: string[], field: string): string[] {
  for (const v of values) refuse(v.endsWith(']'), `${param}: a Unikraft list element cannot end in "]": ${JSON.stringify(v)}`, field);
  return values.length === 0 ? [] : [`${param}=[`, ...values.map(shQuote), ']'];
}

function netParams(instance: InstanceBootConfig): string[] {
  const out: string[] = [];
  (instance.networks ?? []).forEach((_, i) => {
    const net = staticIp(instance, i);
    if (!net) return;
    refuse(out.length !== i, 'Unikraft numbers netdev.ip by device: a static address cannot follow a DHCP network', `networks[${i}]`);
    const dns = net.gateway !== undefined ? net.dns.slice(0, 2) : [];
    out.push(`netdev.ip=${[`${net.ip}/${net.prefix}`, ...(net.gateway !== undefined ? [net.gateway] : []), ...dns].join(':')}`);
  });
  return out;
}

export function unikraftExitStatus(exit: VmExit): ExitStatus {
  if (exit.signal) return signalStatus(exit.signal);
  const status = exit.status ?? 0;
  if (status === 0 || status === 83) return { code: 0, known: false, note: 'Unikraft reports a normal exit, not the app\'s exit code' };
  if (status === 85) return { code: UNIKRAFT_CRASH_CODE, known: false, note: 'the unikernel crashed (QEMU status 85)' };
  if (status % 2 === 1) return { code: (status - 1) / 2, known: true };
  return { code: status, known: false, note: `QEMU exited with status ${status}` };
}

export const unikraft: FamilyAdapter = {
  name: 'unikraft',
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const kernel = requireFile(image.kernelPath, 'unikraft', 'a kernel (multiboot ELF)');
    const libs = parseUnikraftLibsLabel(image.labels[UNIKRAFT_LIBS_LABEL]);
    const has = (lib: string): boolean => libs === undefined || libs.has(lib);
    const { blocks, shares } = volumesOf(instance);
    refuse(blocks.length > 0, 'unikraft: block volumes are not supported (use a shared folder)', 'volumes');
    refuse(shares.length > 0 && !(has('libvfscore') && has('lib9pfs')), 'unikraft: this Unikraft kernel has no 9p file system (libvfscore, lib9pfs): folders cannot be shared', 'volumes');
    refuse(shares.length > 0 && !has('libuklibparam'), `unikraft: ${NO_LIBPARAM}: shared folders cannot be mounted (vfs.fstab)`, 'volumes');
    const env = appEnv(image, instance);
    refuse(env.length > 0 && !has('libuklibparam'), `unikraft: ${NO_LIBPARAM}: env cannot be passed`, 'env');
    const netdev = has('libuknetdev');
    const nics = netdev ? nicsOf(instance) : [];
    refuse(!netdev && nicsOf(instance).some(publishes), `unikraft: ${NO_NETDEV}: ports cannot be published`, 'ports');
    const fs = shareSpecs(shares);
    const params = has('libuklibparam') ? [
      // Without libuklibparam a networked kernel keeps DHCP, which hands out the same address.
      ...(netdev ? netParams(instance) : []),
      ...list('vfs.fstab', fs.map((s, i) => `${s.tag}:${shares[i]!.target}:9pfs`), 'volumes'),
      ...list('env.vars', env.map(([k, v]) => `${k}=${v}`), 'env'),
    ] : [];
    const args = appArgs(image, instance);
    refuse(args.includes(''), 'unikraft: an empty argument cannot be passed', 'args');
    refuse(params.length === 0 && has('libuklibparam') && args.includes('--'), 'unikraft: "--" in the args needs a library parameter before it', 'args');
    const words = params.length > 0 ? [...params, '--', ...args.map(shQuote)] : args.map(shQuote);
    const machine = machineFor(image, 'pc');
    return {
      machine,
      kernel,
      kernelName: programName(image),
      // An initrd (KraftKit's /unikraft/bin/initrd, urunc's initrd) goes as the first multiboot
      // module, where Unikraft's multiboot platform takes its initrd from (plat/kvm/x86/multiboot.c).
      ...(image.initrdPath !== undefined && { initrd: image.initrdPath }),
      cmdline: words.join(' '),
      disks: [],
      ...sizing(image, instance),
      powerdown: 'none',
      debugExit: true,
      debugExitPort: 0x501,
      ...seabios(machine),
      ...devices(nics, fs),
      ...(libs?.has('libukrandom') === true && { kvmOnly: UNIKRAFT_RNG_KVM_ONLY }),
    };
  },
  exitCode: (exit) => unikraftExitStatus(exit).code,
  exitStatus: unikraftExitStatus,
};
