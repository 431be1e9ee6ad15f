// Exit-status mapping shared by the adapters, and the rules the instances layer applies to any
// family: exitStatusOf(adapter, exit) says what code to record and whether it is the guest's own,
// consoleExit(adapter, console) what a family that prints its exit printed, exitSourceOf where a
// code came from (ExitSource).
import { signalNumber } from '../util/signals.js';
import type { VmExit } from '../vmm/types.js';
import type { ExitSource, ExitStatus, FamilyAdapter } from './types.js';

/** QEMU killed by a signal: 128 + its number, the shell's rule. */
export function signalStatus(signal: NodeJS.Signals): ExitStatus {
  return { code: 128 + signalNumber(signal), known: true, note: `QEMU was killed by ${signal}` };
}

export const NO_REPORT =
  'QEMU ended without a report from the guest (stopped, powered off through ACPI, or the guest reset)';

/**
 * isa-debug-exit with the guest's own code: QEMU exits (v << 1) | 1 for a write of v, so an odd
 * status s means the guest reported (s - 1) / 2 (QEMU's hw/misc/debugexit.c). An exit status keeps
 * 8 bits, so only v = 0..127 arrives intact: v >= 128 reads as v - 128 (an app killed by SIGTERM,
 * reported as 143, reads as 15; seen with cunik-init and Debian's kernel).
 */
export function debugExitStatus(exit: VmExit): ExitStatus {
  if (exit.signal) return signalStatus(exit.signal);
  const status = exit.status ?? 0;
  if (status === 0) return { code: 0, known: false, note: NO_REPORT };
  if (status % 2 === 1) return { code: (status - 1) / 2, known: true };
  return { code: status, known: false, note: `QEMU exited with status ${status}` };
}

/** For families whose QEMU status never carries the app's code: 0 unless killed, always unknown. */
export function unknownExitStatus(note: string): (exit: VmExit) => ExitStatus {
  return (exit) => (exit.signal ? signalStatus(exit.signal) : { code: 0, known: false, note });
}

/** What the last console line the family reads an exit code from (exitFromConsole) says, if any. */
export function consoleExit(adapter: FamilyAdapter, console: string): { code: number; note?: string } | undefined {
  if (!adapter.exitFromConsole) return undefined;
  const lines = console.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const found = adapter.exitFromConsole(lines[i]!);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * What the instances layer should record when a VM ends, from how QEMU ended. A VM whose status was
 * lost (adopted after a daemon restart without a shim, {status: null, signal: null}) is unknown for
 * every family.
 */
export function exitStatusOf(adapter: FamilyAdapter, exit: VmExit): ExitStatus {
  if (exit.status === null && exit.signal === null) {
    return { code: 0, known: false, note: 'the VM ended while no daemon watched it: its exit status is lost' };
  }
  return adapter.exitStatus ? adapter.exitStatus(exit) : { code: adapter.exitCode(exit), known: true };
}

/** Where a status came from, when its family did not say (ExitStatus.source). */
export function exitSourceOf(status: ExitStatus, exit: VmExit): ExitSource {
  return status.source ?? (exit.signal !== null ? 'signal' : status.known ? 'guest' : 'unknown');
}
