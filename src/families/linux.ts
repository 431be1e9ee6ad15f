// The `linux` family: a Linux kernel (an uncompressed vmlinux with a PVH note, or a bzImage) and an
// initramfs whose /init reads Cunik's command line (src/build/linux/init.c). Rules and sources:
// - Machine: microvm unless org.cunik.machine says pc/q35. On microvm ACPI is on: Debian's kernel
//   builds virtio_mmio as a module without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so it finds
//   virtio-mmio devices only in the DSDT QEMU generates (hw/i386/acpi-microvm.c). Checked with
//   linux-image-6.1.0 and QEMU 7.2: virtio-blk, -net and -9p found after loading the modules.
//   ACPI also gives microvm a power button (the GED), so stop is 'acpi' (the init must act on it).
// - Timers: microvm keeps pit=off; without a PIT (and no HPET or PM timer) the kernel hangs
//   calibrating the TSC unless tsc_early_khz= gives it (Documentation/admin-guide/
//   kernel-parameters.txt). The frequency comes from instance.tscKhz, else the label
//   org.cunik.tsc-khz, else the PIT is turned back on. no_timer_check skips the IO-APIC timer test.
//   The RTC is on: without it the kernel spends about 2 s timing out on CMOS reads at boot.
// - cryptomgr.notests: no crypto self-tests at boot (crypto/testmgr.c), 60% of the kernel's work
//   before /init under TCG.
// - console=ttyS0 (the 16550 at 0x3f8), quiet, panic=-1 (a panic resets at once; with -no-reboot
//   QEMU exits), pci=off and no pci_arch_init on microvm (it has no PCI).
// - Network: ip=ADDR::GW:NETMASK::eth0:off[:DNS0[:DNS1]], the kernel's own syntax
//   (Documentation/admin-guide/nfs/nfsroot.rst). Debian's kernel has no CONFIG_IP_PNP, so the
//   kernel hands ip= to the init as an environment word and the init applies it. Several networks:
//   one ip= each, the device named by its MAC (02-43-...), the gateway and DNS of the first only.
//   IPv6: cunik.ip6=DEV,ADDR/PREFIX[,GATEWAY] per NIC, which the init applies (no IPv6 in ip=).
// - Volumes: cunik.blk=/dev/vdX:/PATH[:FS] and cunik.9p=TAG:/PATH, read by the init from
//   /proc/cmdline (a dotted word is a module parameter, never passed to init: init/main.c).
// - Env: KEY=VALUE words before "--": the kernel passes unknown KEY=VALUE parameters to init as its
//   environment (init/main.c unknown_bootoption), at most 32 with HOME and TERM
//   (CONFIG_INIT_ENV_ARG_LIMIT); keys with a '.' would be taken as module parameters, so refused.
//   With the label org.cunik.init=cunik (Cunik's init, which reads the image's env from
//   /.cunik/env and lets the command line override it) only the instance's env is passed.
// - Args: after "--", which the kernel passes to init as argv (init/main.c); the init appends them
//   to the image's entry. At most 31; a second "--" would end them (kernel/params.c parse_args).
// - Quoting: each word is spelled so that the kernel's own parser reads it back unchanged
//   (families/linux-cmdline.ts: plain, KEY="VALUE" or "WORD"); a word no spelling survives (a quoted
//   blank inside, like a "b c") is refused. The line is at most 2047 bytes (COMMAND_LINE_SIZE).
// - Memory: at least the label org.cunik.memory.min, which the builder measures (the kernel's load
//   end, the initramfs packed and unpacked, a margin): with less the guest says nothing at all.
// - Exit: the init writes the app's status to isa-debug-exit at 0xf4; QEMU exits (s << 1) | 1.
//   An initramfs the kernel could not unpack whole (it prints "Initramfs unpacking failed: ERR",
//   init/initramfs.c, and goes on with what it got: "write error" is a guest out of memory) is
//   recorded as 125 with that reason (exitFromConsole); the init then ends at once with 125 rather
//   than run the app on a partial root (init.c), and if /init itself was lost the kernel's panic
//   ends the VM with the same line on the console.
// - Root disk (label org.cunik.rootfs=disk, build/linux/rootdisk.ts): the image's disk.img attached
//   read-only (readonly=on: QEMU takes a shared lock, so every instance reads the same file, shared
//   through the host's page cache) after the volumes, with the serial cunik-root that the init looks
//   for (cunik.root=SERIAL: /sys/block/vdX/serial), so the volumes keep /dev/vda, vdb...; cunik.ro
//   (--read-only) mounts it with no writable overlay. A root disk the init cannot mount ends the
//   instance with 125 and the init's one line (exitFromConsole), never a partial root.
import { isIP, isIPv6 } from 'node:net';
import { invalid } from '../errors.js';
import type { BootSpec } from '../vmm/types.js';
import { appArgs, appEnv, blockDisks, devices, imagePorts, machineFor, netmask, nicsOf, refuse, requireFile, shareSpecs, sizing, staticIp, volumesOf } from './common.js';
import { debugExitCode } from './generic.js';
import { debugExitStatus } from './exit.js';
import { kernelWord } from './linux-cmdline.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig } from './types.js';
import { ENTRYPOINT_PATTERN, HOSTNAME_PATTERN, RUN_USER_PATTERN, WORKDIR_PATTERN } from '../api/rules.js';

const HOSTNAME = new RegExp(HOSTNAME_PATTERN);
const RUN_USER = new RegExp(RUN_USER_PATTERN);
const WORKDIR = new RegExp(WORKDIR_PATTERN);
const ENTRYPOINT = new RegExp(ENTRYPOINT_PATTERN);

const COMMAND_LINE_SIZE = 2048;
/** What an instance whose root file system did not unpack whole ends with (Docker's code for a container that could not run). */
export const EXIT_INCOMPLETE_ROOT = 125;
/** The kernel's line (init/initramfs.c), after the printk timestamp if there is one. */
const UNPACK_FAILED = /^(?:\[[\s\d.]+\]\s*)?Initramfs unpacking failed: (.*?)\s*$/;

/** cunik-init's line when the root disk does not mount (init.c: fail_root). */
const ROOT_FAILED = /^cunik-init: (the root disk could not be mounted .*?|the volume \S+ could not be mounted .*?)\s*$/;
/** The virtio-blk serial of an image's root disk (init.c finds the disk by it). */
export const ROOT_DISK_SERIAL = 'cunik-root';

/** The exit a console line reports for a linux guest: an initramfs the kernel could not unpack, a root disk or a volume the init could not mount. */
export function linuxConsoleExit(line: string): { code: number; note: string } | undefined {
  const r = ROOT_FAILED.exec(line);
  if (r) return { code: EXIT_INCOMPLETE_ROOT, note: r[1]! };
  const m = UNPACK_FAILED.exec(line);
  if (!m) return undefined;
  const why = m[1] === 'write error' ? ': the guest ran out of memory (give it more with -m)' : '';
  return { code: EXIT_INCOMPLETE_ROOT, note: `the kernel could not unpack the initramfs whole ("${m[1]}")${why}; the app was not run` };
}
const MAX_INIT_ENVS = 32 - 2; // envp_init starts with HOME=/ and TERM=linux
const MAX_INIT_ARGS = 32 - 1; // argv_init starts with "init"
/** Parameters the kernel itself takes: an env var of that name would never reach the init. */
const KERNEL_PARAMS = new Set(['console', 'quiet', 'panic', 'pci', 'ip', 'init', 'rdinit', 'root', 'loglevel', 'debug', 'tsc_early_khz', 'no_timer_check', 'acpi', 'rootfstype', 'initcall_blacklist']);

/** One command-line word, spelled so that the kernel hands it to init unchanged. */
function kword(word: string, field: string): string {
  const spelled = kernelWord(word);
  if (spelled === undefined) throw invalid(`the Linux command line cannot carry ${JSON.stringify(word)} unchanged (quotes around blanks)`, field);
  return spelled;
}

function tscKhz(image: ImageBootInfo, instance: InstanceBootConfig): number | undefined {
  const khz = instance.tscKhz ?? Number(image.labels['org.cunik.tsc-khz'] ?? NaN);
  return Number.isInteger(khz) && khz > 0 ? khz : undefined;
}

/** The image's ports as the init's cunik.template= word lists them ("80/tcp"); none when its label is bad (no app template then). */
const portsOf = (image: ImageBootInfo): string[] => {
  try {
    return imagePorts(image.labels, 'image').map((p) => `${p.guestPort}/${p.proto}`);
  } catch {
    return [];
  }
};

/** Whether an instance runs a command of its own (env, args, entrypoint, workdir or user): not the image's. */
const ownCommand = (instance: InstanceBootConfig): boolean =>
  instance.env.length > 0 || instance.args.length > 0 || instance.entrypoint !== undefined || instance.workdir !== undefined || instance.user !== undefined;

/** The instance words that are part of its command (an app template's app already runs with the image's). */
const COMMAND_WORD = /^cunik\.(entrypoint|workdir|user)=/;

/**
 * The template's command line and a clone's own words (BootSpec.clone). Pure.
 * - A boot template (`snapshot: boot`, label "1"): the template's init waits before the app runs,
 *   so everything of the instance's (addresses, names, env, args, entrypoint...) goes in its words.
 * - An app template (`ports` given: `snapshot: app`, an instance that runs the image's own command):
 *   the template's app runs already and listens on those ports, so its command is the template's and
 *   a clone's words carry only what the init applies around the running app (addresses, names, MAC).
 */
export function cloneWords(o: { words: string[]; shared: number; plainWords: number; env: [string, string][]; args: string[]; readOnly: boolean; mac: string | undefined; ports?: string[] }): { cmdline: string; words: string[] } {
  const own = o.words.slice(o.shared, o.plainWords);
  const mac = o.mac !== undefined ? [`cunik.mac=${o.mac}`] : [];
  if (o.ports !== undefined && o.ports.length > 0) {
    // The whole boot's line without the instance's own words: its env, root and "--" args as they are.
    const rest = o.words.slice(o.plainWords);
    const dashes = rest.indexOf('--') < 0 ? rest.length : rest.indexOf('--');
    return {
      cmdline: [...o.words.slice(0, o.shared), ...own.filter((w) => COMMAND_WORD.test(w)), ...rest.slice(0, dashes), `cunik.template=${o.ports.join(',')}`, ...rest.slice(dashes)].join(' '),
      words: [...own.filter((w) => !COMMAND_WORD.test(w)), ...mac],
    };
  }
  return {
    cmdline: [...o.words.slice(0, o.shared), `cunik.root=${ROOT_DISK_SERIAL}`, ...(o.readOnly ? ['cunik.ro'] : []), 'cunik.template'].join(' '),
    words: [...own, ...mac, ...o.env.map(([k, v]) => `${k}=${v}`), ...(o.args.length > 0 ? ['--', ...o.args] : [])],
  };
}

export const linux: FamilyAdapter = {
  name: 'linux',
  // Every NIC gets its own ip= word (the init configures each): as many as an instance may have.
  nics: 8,
  ipv6: true,
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec {
    const kernel = requireFile(image.kernelPath, 'linux', 'a kernel (vmlinux or bzImage)');
    const size = sizing(image, instance);
    // Below the minimum the builder measured the guest boots silently or panics (build/linux/footprint.ts).
    const min = Number(image.labels['org.cunik.memory.min'] ?? 0);
    refuse(size.memoryMiB < min, `linux: ${size.memoryMiB} MiB of memory is too little for this image: its kernel and initramfs need at least ${min} MiB (-m ${min}m or more)`, 'memoryMiB');
    const machine = machineFor(image, 'microvm');
    const khz = tscKhz(image, instance);
    const words = ['console=ttyS0', 'quiet', 'panic=-1'];
    // microvm has no PCI: pci=off, and pci_arch_init (which then finds no way to reach a PCI config
    // space, and says so at KERN_ERR, "PCI: Fatal: ...", the first line of every instance's log)
    // is not run; with pci=off it has nothing else to do (arch/x86/pci/init.c).
    if (machine === 'microvm') words.push('pci=off', 'initcall_blacklist=pci_arch_init');
    if (khz !== undefined) words.push(`tsc_early_khz=${khz}`);
    // The crypto self-tests are most of the kernel's own boot work under TCG (with Debian's 6.1,
    // counted in instructions with -icount: /init starts at 0.55 s instead of 1.43 s); a guest that
    // runs one app has no use for testing every algorithm the kernel carries at each boot.
    words.push('no_timer_check', 'cryptomgr.notests');
    // The initramfs is unpacked into a ramfs, not the tmpfs the kernel picks by default when no
    // root= is given (init/do_mounts.c rootfs_init_fs_context): a tmpfs is capped at half the RAM,
    // so an image whose tree is over half the guest's memory failed to unpack ("write error") with
    // memory to spare. rootfstype= only names the rootfs type here; no real root is ever mounted.
    words.push('rootfstype=ramfs');
    const shared = words.length;

    // One NIC: eth0. Several: each named by its MAC (dashes, as ':' separates the fields), which the
    // init looks up, since the order the kernel names them in is not the order they were given in;
    // the default route and the resolvers come from the first network only.
    const nets = (instance.networks ?? []).map((_, i) => staticIp(instance, i));
    const ipWords = nets.flatMap((net, i) => {
      if (!net) return [];
      const mac = instance.networks![i]!.nic.mac;
      refuse(nets.length > 1 && mac === undefined, 'linux: a guest with several networks needs a MAC address for each NIC', 'networks');
      const dev = nets.length > 1 ? mac!.replaceAll(':', '-') : 'eth0';
      return [`ip=${[net.ip, '', i === 0 ? (net.gateway ?? '') : '', netmask(net.prefix), '', dev, 'off', ...(i === 0 ? net.dns.slice(0, 2) : [])].join(':')}`];
    });
    words.push(...ipWords);
    // RFC 1123 (the API's rule): a plain word, which init keeps off the app's environment (cunik.*).
    if (instance.hostname !== undefined) {
      refuse(instance.hostname.length > 64 || !HOSTNAME.test(instance.hostname), `linux: not a host name: ${JSON.stringify(instance.hostname)}`, 'hostname');
      words.push(`cunik.hostname=${instance.hostname}`);
    }
    // --user and --workdir, checked by the API against rules the command line can carry.
    if (instance.user !== undefined) {
      refuse(!RUN_USER.test(instance.user), `linux: not a user: ${JSON.stringify(instance.user)}`, 'user');
      words.push(`cunik.user=${instance.user}`);
    }
    if (instance.entrypoint !== undefined) {
      refuse(!ENTRYPOINT.test(instance.entrypoint), `linux: not a program: ${JSON.stringify(instance.entrypoint)}`, 'entrypoint');
      words.push(`cunik.entrypoint=${instance.entrypoint}`);
    }
    if (instance.workdir !== undefined) {
      refuse(!WORKDIR.test(instance.workdir), `linux: not a working directory: ${JSON.stringify(instance.workdir)}`, 'workdir');
      words.push(`cunik.workdir=${instance.workdir}`);
    }
    // --dns, --dns-search, --dns-option: comma-joined lists the init writes into resolv.conf.
    const dns = instance.dns;
    if (dns !== undefined) {
      const plain = (xs: string[] | undefined, what: string): void => refuse((xs ?? []).some((x) => x === '' || /[\s",]/.test(x)), `linux: not a resolv.conf ${what}: ${JSON.stringify(xs)}`, 'dns');
      plain(dns.servers, 'nameserver');
      plain(dns.search, 'search domain');
      plain(dns.options, 'option');
      if (dns.servers?.length) words.push(`cunik.dns=${dns.servers.join(',')}`);
      if (dns.search?.length) words.push(`cunik.search=${dns.search.join(',')}`);
      if (dns.options?.length) words.push(`cunik.dnsopt=${dns.options.join(',')}`);
    }
    // --add-host: cunik.host=NAME,ADDRESS, one a line the init adds to /etc/hosts.
    for (const h of instance.extraHosts ?? []) {
      const gateway = instance.networks?.[0]?.gateway;
      refuse(h.address === 'host-gateway' && gateway === undefined, `linux: --add-host ${h.name}:host-gateway needs a network with a gateway (not --network none)`, 'extraHosts');
      const address = h.address === 'host-gateway' ? gateway! : h.address;
      refuse(!HOSTNAME.test(h.name) || isIP(address) === 0, `linux: not a host line: ${JSON.stringify(`${h.name}:${h.address}`)}`, 'extraHosts');
      words.push(`cunik.host=${h.name},${address}`);
    }
    // IPv6 (a network made with --ipv6): cunik.ip6=DEV,ADDR/PREFIX[,GATEWAY], applied by the init
    // (the kernel has no ip= for IPv6); a dotted word, so the kernel keeps it off init's environment.
    (instance.networks ?? []).forEach((n, i) => {
      if (n.ip6 === undefined) return;
      refuse(!isIPv6(n.ip6) || n.prefix6 === undefined || !Number.isInteger(n.prefix6) || n.prefix6 < 1 || n.prefix6 > 128, `networks[${i}]: not an IPv6 address and prefix: ${n.ip6}/${String(n.prefix6)}`, `networks[${i}].ip6`);
      refuse(n.gateway6 !== undefined && !isIPv6(n.gateway6), `networks[${i}]: not an IPv6 gateway: ${String(n.gateway6)}`, `networks[${i}].gateway6`);
      const dev = nets.length > 1 ? n.nic.mac!.replaceAll(':', '-') : 'eth0';
      words.push(`cunik.ip6=${[dev, `${n.ip6}/${n.prefix6}`, ...(i === 0 && n.gateway6 !== undefined ? [n.gateway6] : [])].join(',')}`);
    });
    const { blocks, shares } = volumesOf(instance);
    // An image whose kernel lacks a kind's modules (build/linux/modules.ts) records what it can mount.
    const kinds = image.labels['org.cunik.volume-kinds']?.split(',');
    const release = image.labels['org.cunik.kernel.release'] ?? 'unknown';
    refuse(kinds !== undefined && !kinds.includes('share') && shares.length > 0, `linux: this image's kernel (${release}) has no 9p, so it cannot mount a shared folder (a host folder or a share volume) at ${shares[0]?.target}: use a block volume (cunik volume create --driver block), or build the image with a kernel that has 9p`, 'volumes');
    refuse(kinds !== undefined && !kinds.includes('block') && blocks.length > 0, `linux: this image's kernel (${release}) has no virtio_blk or ext4, so it cannot mount the volume at ${blocks[0]?.target}: build the image with a kernel that has them`, 'volumes');
    for (const v of [...blocks, ...shares]) refuse(/[\s":]/.test(v.target), `the init cannot mount at ${JSON.stringify(v.target)} (blank, quote or colon)`, 'volumes');
    blocks.forEach((v, i) => words.push(`cunik.blk=/dev/vd${String.fromCharCode(97 + i)}:${v.target}${v.fstype ? `:${v.fstype}` : ''}`));
    shareSpecs(shares).forEach((s, i) => words.push(`cunik.9p=${s.tag}:${shares[i]!.target}`));

    // Cunik's init reads the image's env from /.cunik/env itself: only the instance's goes on the line.
    const env = appEnv(image.labels['org.cunik.init'] === 'cunik' ? { ...image, env: [] } : image, instance);
    refuse(env.length + ipWords.length > MAX_INIT_ENVS, `Linux passes at most ${MAX_INIT_ENVS} environment words to init`, 'env');
    const plainWords = words.length;
    for (const [key, value] of env) {
      refuse(key.includes('.') || KERNEL_PARAMS.has(key), `env ${key} would be taken by the kernel, not passed to the app`, 'env');
      words.push(kword(`${key}=${value}`, 'env'));
    }
    // Docker's rule: another entrypoint takes the request's args alone, never the image's defaults.
    const args = instance.entrypoint !== undefined ? [...instance.args] : appArgs(image, instance);
    refuse(args.length > MAX_INIT_ARGS, `Linux passes at most ${MAX_INIT_ARGS} arguments to init`, 'args');
    refuse(args.includes('--'), 'the Linux command line cannot pass "--" to the app (the kernel ends init arguments there)', 'args');
    if (args.length > 0) words.push('--', ...args.map((a) => kword(a, 'args')));
    const rootDisk = image.labels['org.cunik.rootfs'] === 'disk';
    refuse(rootDisk && image.diskPath === undefined, 'linux: the image has no root disk (cunik/disk.img is missing)', 'image');
    refuse(instance.readOnlyRoot === true && !rootDisk, 'linux: --read-only needs an image whose root file system is a root disk (rootfs: disk in its Cunikfile); this one unpacks into memory', 'readOnlyRoot');
    // Before "--" and the env words: dotted, so the kernel keeps them off init's environment.
    if (rootDisk) words.splice(words.indexOf('--') < 0 ? words.length : words.indexOf('--'), 0, `cunik.root=${ROOT_DISK_SERIAL}`, ...(instance.readOnlyRoot === true ? ['cunik.ro'] : []));
    const cmdline = words.join(' ');
    if (cmdline.length >= COMMAND_LINE_SIZE) throw invalid(`the kernel command line is ${cmdline.length} bytes, over Linux's ${COMMAND_LINE_SIZE - 1}`, 'args');
    // A clone of a template boot (init.c, "a template boot"): the template has the words every
    // instance shares and nothing in memory that is an instance's (a root disk: the tree is not in
    // the initramfs; no volume, one NIC at most, whose address the init sets: a clone's is the template's).
    const nics = nicsOf(instance);
    const stage = image.labels['org.cunik.clone'];
    const cloneable = rootDisk && machine === 'microvm' && (stage === '1' || stage === 'app') && image.labels['org.cunik.init'] === 'cunik' && blocks.length === 0 && shares.length === 0 && nics.length <= 1;
    const clone = cloneable ? cloneWords({ words, shared, plainWords, env, args, readOnly: instance.readOnlyRoot === true, mac: nics[0]?.mac, ...(stage === 'app' && !ownCommand(instance) && { ports: portsOf(image) }) }) : undefined;

    const machineOptions: Record<string, string> = {};
    if (machine === 'microvm') {
      machineOptions['acpi'] = 'on';
      // Without the CMOS RTC, Debian's kernel waits twice for it (about 1 s each: "Unable to read
      // current time from RTC", then rtc_cmos "broken or not accessible"): on, boot is 2 s shorter
      // under TCG and the guest has the time of day.
      machineOptions['rtc'] = 'on';
      if (khz === undefined) machineOptions['pit'] = 'on';
    }
    return {
      machine,
      kernel,
      ...(image.initrdPath !== undefined && { initrd: image.initrdPath }),
      cmdline,
      disks: [...blockDisks(blocks), ...(rootDisk ? [{ path: image.diskPath!, format: 'raw' as const, readonly: true, serial: ROOT_DISK_SERIAL }] : [])],
      ...size,
      powerdown: 'acpi',
      debugExit: true,
      ...(Object.keys(machineOptions).length > 0 && { machineOptions }),
      ...devices(nics, shareSpecs(shares)),
      ...(clone !== undefined && { clone }),
    };
  },
  exitCode: debugExitCode,
  exitStatus: debugExitStatus,
  exitFromConsole: linuxConsoleExit,
};
