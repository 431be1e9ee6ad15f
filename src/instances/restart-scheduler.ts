// Restart policies at run time: after an exit, decide (restart.ts) whether the instance comes back
// and schedule its next start after a back-off. The pending timers and the last back-off per instance
// live here; the service cancels them on a user's start, stop or remove.
import type { InstanceRecord } from './record.js';
import { nextBackoff, NO_RESTART, shouldRestart } from './restart.js';

export interface RestartHooks {
  /** Whether the instance still exists (it may be removed while a restart is pending). */
  isKnown(id: string): boolean;
  save(record: InstanceRecord): Promise<unknown>;
  /** Run an operation in the instance's queue (the service's per-instance serialization). */
  queue(id: string, op: () => Promise<unknown>): Promise<unknown>;
  /** Boot the instance's VM; called inside queue(). */
  launch(record: InstanceRecord): Promise<unknown>;
}

export class RestartScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly backoffs = new Map<string, number>();

  constructor(private readonly hooks: RestartHooks) {}

  /** Apply the restart policy to an exit: schedule the next start after the back-off. */
  afterExit(record: InstanceRecord, exitCode: number): void {
    const policy = record.config.restartPolicy ?? NO_RESTART;
    if (!this.hooks.isKnown(record.id) || record.config.autoRemove) return;
    if (!shouldRestart(policy, { exitCode, restartCount: record.restartCount ?? 0, manuallyStopped: record.manuallyStopped ?? false })) return;
    const uptime = Date.parse(record.finishedAt ?? '') - Date.parse(record.startedAt ?? '');
    const delay = nextBackoff(this.backoffs.get(record.id), Number.isFinite(uptime) ? uptime : 0);
    this.backoffs.set(record.id, delay);
    record.state = 'restarting';
    void this.hooks.save(record).catch(() => undefined);
    const timer = setTimeout(() => {
      this.timers.delete(record.id);
      void this.hooks
        .queue(record.id, async () => {
          // A user's stop or remove may have come first while this waited in the queue.
          if (record.state !== 'restarting' || !this.hooks.isKnown(record.id)) return;
          record.restartCount = (record.restartCount ?? 0) + 1;
          await this.hooks.launch(record);
        })
        .catch(() => {
          record.state = 'exited';
          void this.hooks.save(record).catch(() => undefined);
        });
    }, delay);
    this.timers.set(record.id, timer);
  }

  /** Cancel a pending policy restart; true if there was one. */
  cancel(id: string): boolean {
    const timer = this.timers.get(id);
    if (!timer) return false;
    clearTimeout(timer);
    this.timers.delete(id);
    return true;
  }

  cancelAll(): void {
    for (const id of this.timers.keys()) this.cancel(id);
  }

  /** Drop what is kept about a removed instance (its back-off). */
  forget(id: string): void {
    this.backoffs.delete(id);
  }
}
