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
  path: string;
  format: 'raw' | 'qcow2';
  readonly: boolean;
}

export interface BootSpec {
  machine: MachineType;
  /** Path to the kernel file (multiboot/PVH ELF, bzImage, vmlinux). */
  kernel?: string;
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

/** How a VM process ended: exit status or the signal that killed it. */
export interface VmExit {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the VMM itself failed (bad argv, unloadable kernel...): its own error message. */
  vmmError?: string;
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

export interface VmmDriver {
  readonly name: string;
  /** The exact argv (argv[0] = binary) that start() would run: pure, for tests and benchmarks. */
  argv(spec: BootSpec, paths: VmPaths, accel: Accelerator): string[];
  /** Spawn the VM detached (own session); resolves once the process exists. */
  start(spec: BootSpec, paths: VmPaths, accel: Accelerator): Promise<VmHandle>;
}
