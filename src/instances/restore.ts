// Live restore at daemon start: load the stored records, re-adopt the VMs that outlived the previous
// daemon, mark the ones that ended meanwhile exited (with their shim-recorded exit), end strays and
// stale sockets, and pick the instances whose restart policy brings them back.
import type { ExitStatus } from '../families/types.js';
import { adoptedRunStart } from './console-exit.js';
import { instanceExitStatus, runConsole } from './exit-status.js';
import type { VmHandle, VmPaths } from '../vmm/types.js';
import type { InstanceRecord } from './record.js';
import { NO_RESTART, restartsOnDaemonStart } from './restart.js';
import type { InstanceServiceDeps } from './service-deps.js';

export interface RestoreContext {
  deps: Pick<InstanceServiceDeps, 'store' | 'family' | 'driver' | 'log'>;
  /** Make a loaded record known to the service (by id and name). */
  register(record: InstanceRecord): void;
  /** Watch an adopted VM as if this daemon had started it. */
  watch(record: InstanceRecord, handle: VmHandle): void;
  markExited(record: InstanceRecord, status: ExitStatus, stderr?: string): Promise<void>;
  /** Ids of the instances with a live (adopted) VM. */
  running(): Iterable<string>;
}

export async function restoreInstances(ctx: RestoreContext): Promise<void> {
  const { deps } = ctx;
  await deps.store.init();
  const { records, dropped, quarantined } = await deps.store.loadAll();
  // Set aside, never deleted, and their VMs left alone: nothing in a damaged record can be trusted
  // to tell which process is the instance's (its sockets stay for whoever looks into it).
  for (const q of quarantined) deps.log?.(`warning: instance ${q.id.slice(0, 12)} set aside: ${q.reason} (now in ${q.path}; see cunik system check)`);
  // Strays of directories without a record: an instance created and started in one request whose
  // record was not written yet.
  const notRunning: VmPaths[] = dropped.map((id) => deps.store.paths(id));
  for (const record of records) {
    ctx.register(record);
    const paths = deps.store.paths(record.id);
    if (record.state !== 'running' && record.state !== 'paused') {
      notRunning.push(paths);
      continue;
    }
    const watched = record.supervisorPid ?? record.pid;
    const handle = watched ? deps.driver.adopt(watched, paths) : undefined;
    if (handle) {
      // The record may hold the supervisor's pid (saved while QEMU started): the VM's is in its pidfile.
      record.pid = deps.store.vmPid(record.id) ?? record.pid;
      ctx.watch(record, handle);
      continue;
    }
    // It ended while no daemon watched: its shim recorded how (no record: killed with its group).
    const exit = deps.driver.recordedExit(paths) ?? { status: null, signal: 'SIGKILL' as const };
    const run = (): string => runConsole(paths.consoleLog, adoptedRunStart(paths.consoleLog, record.consoleStart));
    await ctx.markExited(record, instanceExitStatus(deps.family(record.family), exit, run), exit.stderr);
  }
  deps.driver.killStrays(notRunning);
  await deps.store.removeSocketsExcept(new Set([...ctx.running(), ...quarantined.map((q) => q.id)]));
}

/** Like dockerd: `always` and (not stopped by hand) `unless-stopped` instances come back at daemon start. */
export function dueAtDaemonStart(records: Iterable<InstanceRecord>, isRunning: (id: string) => boolean): InstanceRecord[] {
  const due: InstanceRecord[] = [];
  for (const record of records) {
    if (isRunning(record.id) || record.state === 'created') continue;
    if (restartsOnDaemonStart(record.config.restartPolicy ?? NO_RESTART, record.manuallyStopped ?? false)) due.push(record);
  }
  return due;
}
