// The VMM driver contract. A BootSpec is pure data produced by a family adapter;
// a driver turns it into a running VM. New hypervisors implement VmmDriver.

export type MachineType = 'microvm' | 'pc' | 'q35';
export type Accelerator = 'kvm' | 'tcg';

export interface AccelChoice {
  accel: Accelerator;
  /** One line saying why, e.g. "kvm probe: guest stopped with an emulation failure". */
  reason: string;
}

export interface DiskSpec {
  /** Absolute, or relative to the instance directory (VmPaths.dir). */
  path: string;
  format: 'raw' | 'qcow2';
  readonly: boolean;
  /**
   * A per-instance copy-on-write overlay: `path` is a qcow2 file backed by `backing`, which the
   * driver creates before the first start (VmmDriver.prepareDisks) and keeps across restarts;
   * VmmDriver.removeDisks (or removing the instance directory) drops it. The backing file is never written.
   */
  overlay?: { backing: string; backingFormat: 'raw' | 'qcow2' };
  /** Boot from this disk (bootindex=0): firmware-booted disk images. */
  boot?: boolean;
  /** virtio-blk serial number (up to 20 bytes), visible to the guest (Linux: /sys/block/vdX/serial). */
  serial?: string;
  /**
   * PCI slot on bus 0 (pc/q35: `addr=`), for guests that match devices to their own list by slot
   * order (Solo5). Default: the next free slot, in the order of the argv.
   */
  pciSlot?: number;
}

/** A host port forwarded into the guest by a user-mode network (passt's -t/-u, or slirp's hostfwd). */
export interface PortForward {
  proto: 'tcp' | 'udp';
  /** Host address to listen on; default all addresses. */
  hostAddr?: string;
  hostPort: number;
  /** Guest address (slirp only; passt forwards to the guest's own); default slirp's first DHCP address (10.0.2.15). */
  guestAddr?: string;
  guestPort: number;
}

/** The guest's side of a passt network: what passt's DHCP hands out and what it answers for. */
export interface PasstGuest {
  ip: string;
  prefix: number;
  gateway: string;
  /** The address passt forwards DNS queries from (to the host's resolver). */
  dns?: string;
}

/** The host side of a virtual NIC. */
export type NetBackend =
  /**
   * QEMU's own user-mode networking (slirp): no privileges; `net` is its IPv4 network (default
   * 10.0.2.0/24). Its gateway leads to the host's loopback: the daemon uses passt instead.
   */
  | { type: 'user'; net?: string; hostfwd?: PortForward[] }
  /**
   * passt, a user-mode network that never maps the guest's gateway to the host's loopback: a
   * helper process the driver starts beside the VM (under cunik-shim), joined to QEMU by a socket
   * pair at fd 3 (src/network/passt.ts). At most one per VM.
   */
  | { type: 'passt'; guest: PasstGuest; forwards: PortForward[] }
  /**
   * Nothing behind the NIC (a port of an empty QEMU hub): a template boot's, which its clones
   * replace by their own (template.ts). Unlike slirp, it has no state of its own to save.
   */
  | { type: 'unplugged' }
  /** An existing tap device (the network layer creates and bridges it). */
  | { type: 'tap'; ifname: string };

export interface NicSpec {
  backend: NetBackend;
  /** e.g. 52:54:00:12:34:56; default QEMU's. */
  mac?: string;
  /** PCI slot on bus 0 (pc/q35), as DiskSpec.pciSlot. */
  pciSlot?: number;
}

/**
 * A host folder shared over virtio-9p (QEMU's `local` fsdev, security_model=mapped-xattr: the
 * guest's owners, modes and device nodes are kept in xattrs, so it never makes a setuid or a
 * device file on the host).
 */
export interface ShareSpec {
  /** The 9p mount tag the guest mounts by. */
  tag: string;
  path: string;
  readonly: boolean;
}

/** A multiboot module (QEMU -initrd "path args,path2"): a file plus its own command line. */
export interface ModuleSpec {
  path: string;
  cmdline?: string;
  /** The file name the guest sees first on the module's command line (as BootSpec.kernelName). */
  name?: string;
}

export interface BootSpec {
  machine: MachineType;
  /** Path to the kernel file (multiboot/PVH ELF, bzImage, vmlinux). */
  kernel?: string;
  /**
   * The file name the guest is told its kernel has. QEMU's multiboot loader writes the -kernel
   * argument, as given, first on the kernel's command line (hw/i386/multiboot.c), and multiboot
   * guests take that word for argv[0]: with a name, the driver gives QEMU the kernel under it, in
   * the directory QEMU runs in, so no host path reaches the guest. A plain file name (letters,
   * digits, '.', '_', '-', '+').
   */
  kernelName?: string;
  initrd?: string;
  /** Kernel command line (-append). */
  cmdline: string;
  disks: DiskSpec[];
  memoryMiB: number;
  cpus: number;
  /**
   * How the guest can be asked to shut down: 'acpi' (QMP system_powerdown presses the power
   * button) or 'none' (no such path, e.g. microvm without ACPI: stop goes straight to SIGTERM).
   */
  powerdown: 'acpi' | 'none';
  /** Attach isa-debug-exit (iobase 0xf4, size 4): the guest exits QEMU with status (v << 1) | 1. */
  debugExit: boolean;
  /**
   * The isa-debug-exit port: 0xf4 (default; size 4) or 0x501 (QEMU's own default, size 2), which
   * Unikraft, Solo5 and Nanos write to.
   */
  debugExitPort?: number;
  /**
   * Machine options merged over the machine's defaults (for microvm the trimmed MICROVM_MACHINE
   * options): a key present in both takes this value, a new key is appended. e.g. { acpi: 'on' }.
   */
  machineOptions?: Record<string, string>;
  /** -global DRIVER.PROP=VALUE settings, e.g. 'virtio-mmio.force-legacy=false'. */
  globals?: string[];
  /**
   * 'seabios': keep QEMU's default firmware even where the driver would pass qboot (QemuArgvOptions
   * .bios). qboot leaves PCI I/O BARs unassigned (a virtio-net-pci shows base 0 to Solo5), so
   * guests that drive PCI devices without assigning BARs themselves need SeaBIOS.
   */
  firmware?: 'seabios';
  /** Multiboot modules (-initrd), for a multiboot kernel; excludes `initrd`. */
  modules?: ModuleSpec[];
  /** Virtual NICs: virtio-net-device on microvm, virtio-net-pci elsewhere. */
  nics?: NicSpec[];
  /** Host folders over virtio-9p: virtio-9p-device on microvm, virtio-9p-pci elsewhere. */
  shares?: ShareSpec[];
  /** Set when the guest cannot run under software emulation: why, as the sentence a start under TCG fails with. */
  kvmOnly?: string;
  /**
   * The guest may start as a clone of a template (vmm/qemu/template.ts): `cmdline` is the template
   * boot's command line (what every instance of this spec shares); `words` what this instance has
   * on top, unquoted, handed to the template's waiting init (src/build/linux/init.c). The driver
   * may ignore it and boot `cmdline` whole.
   */
  clone?: { cmdline: string; words: string[] };
}

/** Files a driver uses for one VM; all live in the instance's directory. */
export interface VmPaths {
  dir: string;
  pidfile: string;
  qmpSocket: string;
  /** Serial console output, written by QEMU itself. */
  consoleLog: string;
  /** Serial console input/attach socket (QEMU listens). */
  consoleSocket: string;
  /** Optional: the VMM's own stderr (its error messages, e.g. a bad kernel path) is appended here. */
  vmmLog?: string;
  /** Where the VM's parent (cunik-shim) records how the VM ended, for daemons restarted meanwhile. */
  exitFile?: string;
}

/**
 * How a VM process ended: exit status or the signal that ended it (also a signal the VMM caught
 * and ended on by itself: QEMU exits 0 on SIGTERM, which is reported here as signal SIGTERM).
 */
export interface VmExit {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the VMM itself failed before the guest ran (bad argv, unloadable kernel...): its own error message. */
  vmmError?: string;
  /** What the VMM wrote on stderr during this run (warnings too), for inspect; the whole text stays in its log. */
  stderr?: string;
}

export interface VmHandle {
  readonly pid: number;
  /** Resolves once the VM process is gone. */
  readonly exited: Promise<VmExit>;
  /** Resolves once the VMM is up and answering (past its own start-up checks); rejects if it exits first. */
  ready(): Promise<void>;
  /** Ask the guest to shut down (ACPI power button or the family's way). */
  powerdown(): Promise<void>;
  /** Freeze the guest's vCPUs (QMP stop) / let them run again (QMP cont). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Send a signal to the VM process. */
  kill(signal: NodeJS.Signals): void;
}

/**
 * A hypervisor behind one small contract: everything the instances layer needs to run, watch,
 * re-find and clean up VMs, so that no QEMU specifics leak into it. Every driver passes the
 * conformance suite (test/helpers/driver-conformance.ts).
 */
export interface VmmDriver {
  readonly name: string;
  /** The exact argv (argv[0] = binary) that start() would run: pure, for tests and benchmarks. */
  argv(spec: BootSpec, paths: VmPaths, accel: Accelerator): string[];
  /**
   * Create the per-instance disks the spec needs (copy-on-write overlays) that do not exist yet in
   * paths.dir; kept across restarts. Returns the paths created.
   */
  prepareDisks(spec: BootSpec, paths: VmPaths): Promise<string[]>;
  /** Drop what prepareDisks made (the instance is being removed). */
  removeDisks(spec: BootSpec, paths: VmPaths): Promise<void>;
  /** Spawn the VM detached (own session); resolves once the process exists. */
  start(spec: BootSpec, paths: VmPaths, accel: Accelerator): Promise<VmHandle>;
  /**
   * Re-attach to a VM started earlier (by this or a previous daemon, live restore): undefined
   * unless `pid` is alive and is this VM's process.
   */
  adopt(pid: number, paths: VmPaths): VmHandle | undefined;
  /** How a VM that ended while no one watched it exited, if that was recorded; else undefined. */
  recordedExit(paths: VmPaths): VmExit | undefined;
  /**
   * End the VMs of these instances' files that still run although no record says so (a daemon
   * killed between spawning a VM and saving its record). Returns how many were ended.
   */
  killStrays(instances: VmPaths[]): number;
  /**
   * Stop a VM: ask the guest to shut down, wait up to timeoutMs (0: don't ask), then end it by
   * force. Resolves with how it ended.
   */
  stop(handle: VmHandle, timeoutMs: number): Promise<VmExit>;
  /** Release the driver's own helpers (VMs keep running). */
  close?(): void;
}
