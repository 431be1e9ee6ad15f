// What an instance records when its VM ends: the family's reading of how the VM ended
// (families/exit.ts), the console lines of that run for families that print their exit, and 125
// when the VMM itself failed (Docker's code for a container that could not run).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { consoleExit, exitSourceOf, exitStatusOf } from '../families/exit.js';
import type { ExitSource, ExitStatus, FamilyAdapter } from '../families/types.js';
import type { VmExit } from '../vmm/types.js';
import type { InstanceRecord } from './record.js';

/** Exit code recorded when the VMM itself failed (Docker's code for a container that could not run). */
export const EXIT_VMM_FAILED = 125;

/** How much of a run's console is searched for an exit line: the end of it, where guests print it. */
const CONSOLE_TAIL = 64 * 1024;

/**
 * The console text of the run that began at `from` (console.log's size when it started), at most its
 * last 64 KiB. Without `from` (a VM started by an earlier daemon), or if the log was rotated since
 * (it is now shorter), the log's last 64 KiB.
 */
export function runConsole(consoleLog: string, from?: number): string {
  let fd: number;
  try {
    fd = openSync(consoleLog, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(from !== undefined && from <= size ? from : 0, size - CONSOLE_TAIL);
    const buf = Buffer.alloc(size - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * `console` (what the guest printed during this run) is read only for families that print their
 * exit (FamilyAdapter.exitFromConsole; a thunk: no I/O for the others). A line reporting the exit
 * wins over QEMU's status, even when the VM was then ended by a signal (a guest that halts after
 * printing it).
 */
export function instanceExitStatus(adapter: FamilyAdapter, exit: VmExit, console: () => string): ExitStatus & { source: ExitSource } {
  if (exit.vmmError !== undefined) return { code: EXIT_VMM_FAILED, known: true, source: 'vmm', note: `the VM failed to start: ${exit.vmmError}` };
  const printed = adapter.exitFromConsole ? consoleExit(adapter, console()) : undefined;
  if (printed !== undefined) return { code: printed.code, known: true, source: 'console', ...(printed.note !== undefined && { note: printed.note }) };
  const status = exitStatusOf(adapter, exit);
  return { ...status, source: exitSourceOf(status, exit) };
}

/** What an exit changes in a record (`stderr`: what the VMM said, kept as the record's error). */
export function exitedFields(status: ExitStatus, stderr?: string): Partial<InstanceRecord> {
  return {
    state: 'exited',
    pid: null,
    supervisorPid: null,
    exitCode: status.code,
    exitCodeKnown: status.known,
    exitNote: status.note ?? null,
    exitSource: status.source ?? null,
    error: stderr ?? null,
    finishedAt: new Date().toISOString(),
  };
}
