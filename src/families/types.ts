import type { BootSpec, NicSpec, VmExit } from '../vmm/types.js';

/** Image-level boot facts, read from the image config's org.cunik.* labels. */
export interface ImageBootInfo {
  family: string;
  /**
   * The image's name: the last part of its first repository (nginx for docker.io/library/nginx:1.25),
   * else its short id. argv[0] of multiboot guests (families/common.ts: programName).
   */
  name?: string;
  /** multiboot | pvh | linux | disk */
  boot: string;
  kernelPath?: string;
  initrdPath?: string;
  diskPath?: string;
  /** Default args from the image. */
  args: string[];
  env: string[];
  memoryMiB: number;
  cpus: number;
  labels: Record<string, string>;
  /** The image config's StopSignal, when it is one a VM honours (instances/signals.ts). */
  stopSignal?: string;
  /** The image config's StopTimeout, seconds. */
  stopTimeout?: number;
}

/**
 * One network attachment of an instance: the host side (as QEMU takes it) plus the guest's IPv4
 * settings the network layer assigned. Without `ip` the family's default applies (DHCP where the
 * family has it); each adapter says in docs/families.md how it passes these.
 */
export interface InstanceNetwork {
  nic: NicSpec;
  /** Guest IPv4 address, e.g. 10.0.2.15. */
  ip?: string;
  /** Prefix length of `ip`'s network, e.g. 24. Required with `ip`. */
  prefix?: number;
  gateway?: string;
  dns?: string[];
  /** A network made with --ipv6, for a family with `ipv6: true`: the guest's IPv6 address, prefix and gateway. */
  ip6?: string;
  prefix6?: number;
  gateway6?: string;
}

/** A volume attached to an instance: a block file (virtio-blk) or a host folder (virtio-9p). */
export interface InstanceVolume {
  kind: 'block' | 'share';
  /** Host path: the block file or the shared folder. */
  source: string;
  /** Mount point in the guest. */
  target: string;
  readonly: boolean;
  /** Block files only: image format (default raw) and file system (default: the family's). */
  format?: 'raw' | 'qcow2';
  fstype?: string;
}

/** What the user asked for at create time. */
export interface InstanceBootConfig {
  /** Replaces the image's default args when non-empty. */
  args: string[];
  env: string[];
  memoryMiB?: number;
  cpus?: number;
  /** Network attachments, the primary first; none means no NIC. */
  networks?: InstanceNetwork[];
  volumes?: InstanceVolume[];
  /**
   * The host's TSC frequency in kHz (families/host.ts: hostTscKhz()), for guests that cannot
   * calibrate it on a trimmed machine (linux: tsc_early_khz=, hermit: -freq).
   */
  tscKhz?: number;
  /**
   * Docker's --read-only: the root file system takes no writes (linux images with a root disk: no
   * writable overlay at all; the linux adapter refuses it for an image without one).
   */
  readOnlyRoot?: boolean;
  /** The guest's host name (linux: cunik.hostname=); families without one ignore it. */
  hostname?: string;
  /** run --add-host lines for /etc/hosts (linux: cunik.host=); address 'host-gateway' is the first network's gateway. */
  extraHosts?: { name: string; address: string }[];
  /** run --dns, --dns-search, --dns-option (linux: cunik.dns=, cunik.search=, cunik.dnsopt=): the guest's resolv.conf. */
  dns?: { servers?: string[]; search?: string[]; options?: string[] };
  /** run --entrypoint (linux: cunik.entrypoint=): the program instead of the image's; `args` then stand alone. */
  entrypoint?: string;
  /** run --user USER[:GROUP] and --workdir (linux: cunik.user=, cunik.workdir=), over the image's. */
  user?: string;
  workdir?: string;
}

/**
 * Where an exit code came from: the guest's own report through the VMM (isa-debug-exit), a line
 * the guest printed on its console (FamilyAdapter.exitFromConsole), the signal that ended the VM
 * (128 + n), nothing that tells it (a stand-in: see ExitStatus.known), or the VMM failing to start (125).
 */
export type ExitSource = 'guest' | 'console' | 'signal' | 'unknown' | 'vmm';

/** How an instance ended, as a family can tell it. */
export interface ExitStatus {
  code: number;
  /**
   * false when QEMU's exit status does not carry the guest's own exit code (Solo5 and OSv on QEMU,
   * a VM adopted after a daemon restart...): `code` is then a stand-in (0 unless the guest is known
   * to have failed) and inspect should say "exit code unknown" with `note`.
   */
  known: boolean;
  /** One line saying why the code is unknown or what it stands for. */
  note?: string;
  /** Default (exitStatusOf): 'signal' if a signal ended the VM, else 'guest' when known, 'unknown' when not. */
  source?: ExitSource;
}

export interface FamilyAdapter {
  readonly name: string;
  /** false: the guest cannot be given a static IPv4 address (it configures its own, e.g. by DHCP). */
  readonly staticAddress?: false;
  /** How many NICs the guest is given static settings for (default 1): a second network is refused beyond it. */
  readonly nics?: number;
  /** true: the guest takes a static IPv6 address beside its IPv4 one (InstanceNetwork.ip6); others get IPv4 only. */
  readonly ipv6?: boolean;
  bootSpec(image: ImageBootInfo, instance: InstanceBootConfig): BootSpec;
  /** Map how QEMU ended to the unikernel's exit code. */
  exitCode(exit: VmExit): number;
  /** The same with whether the code is the guest's own (families/exit.ts: exitStatusOf). */
  exitStatus?(exit: VmExit): ExitStatus;
  /**
   * The exit code a console line reports, for guests that print how they exit (Solo5's
   * `solo5_exit(N) called`, Rumprun's `=== _exit(N) called ===`); undefined for any other line.
   * When the VM ends, the runtime applies it to the lines the guest printed during that run (the
   * last line that reports wins) and records that code with source 'console', over what QEMU's
   * status says, with its `note` when the line says why the guest ended (not the app's own code).
   */
  exitFromConsole?(line: string): { code: number; note?: string } | undefined;
}
