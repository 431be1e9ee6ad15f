// Watching a running VM for its end: a guest that halts after printing its exit is stopped once it
// has (console-exit.ts), and when the VM ends its exit status is read (exit-status.ts) and handed
// to the service, which records it and applies the restart policy and --rm.
import { statSync } from 'node:fs';
import type { ExitStatus } from '../families/types.js';
import type { VmHandle } from '../vmm/types.js';
import { adoptedRunStart, watchConsoleExit } from './console-exit.js';
import { instanceExitStatus, runConsole } from './exit-status.js';
import type { InstanceRecord } from './record.js';
import type { InstanceServiceDeps } from './service-deps.js';

const fileSize = (path: string): number => statSync(path, { throwIfNoEntry: false })?.size ?? 0;

export interface VmExitContext {
  deps: Pick<InstanceServiceDeps, 'driver' | 'family' | 'store'>;
  /** Whether `handle` is still the instance's live VM. */
  isCurrent(id: string, handle: VmHandle): boolean;
}

/**
 * `consoleAt`: console.log's size when this daemon started the VM; undefined for an adopted VM
 * (started by an earlier daemon): then its run's console from the start its record gives, so an
 * exit line printed while no daemon ran is seen at once. `exited` is called once the VM has ended.
 */
export function watchVmExit(
  ctx: VmExitContext,
  record: InstanceRecord,
  handle: VmHandle,
  consoleAt: number | undefined,
  exited: (status: ExitStatus, stderr: string | undefined) => Promise<void>,
): void {
  const adapter = ctx.deps.family(record.family);
  const consoleLog = ctx.deps.store.paths(record.id).consoleLog;
  const from = consoleAt ?? adoptedRunStart(consoleLog, record.consoleStart);
  // A guest that halts after printing its exit is stopped once it has (a record without its
  // run's start: from the console's end as found, since what is before may be an earlier run's).
  const halted = watchConsoleExit(adapter, consoleLog, from ?? fileSize(consoleLog), () => {
    if (ctx.isCurrent(record.id, handle)) void ctx.deps.driver.stop(handle, 0).catch(() => undefined);
  });
  void handle.exited.then((exit) => {
    halted?.close();
    return exited(instanceExitStatus(adapter, exit, () => runConsole(consoleLog, from)), exit.stderr);
  });
}
