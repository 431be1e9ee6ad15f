// `cunik system check` for instances: the records set aside at daemon start (store.ts:
// quarantine). --repair ends the VM still running from one (found by its own QMP socket and exit
// file, as strays are) and deletes the set-aside directory.
import { rmSync } from 'node:fs';
import type { CheckProblem } from '../api/check.js';
import type { InstanceServiceDeps } from './service-deps.js';

export function checkSetAside(deps: Pick<InstanceServiceDeps, 'store' | 'driver'>, repair: boolean): CheckProblem[] {
  return deps.store.listQuarantined().map((q) => {
    if (!repair) return { kind: 'instance', subject: q.id, problem: `set aside at daemon start: ${q.reason}`, path: q.path, repaired: false };
    // Its VM, if it still runs, was started from instances/<id>/: its argv names that directory's exit file and its socket.
    const ended = /^[a-f0-9]{64}$/.test(q.id) ? deps.driver.killStrays([deps.store.paths(q.id)]) : 0;
    rmSync(q.path, { recursive: true, force: true });
    return { kind: 'instance', subject: q.id, problem: `set aside at daemon start: ${q.reason}; deleted${ended > 0 ? ', and its VM ended' : ''}`, path: q.path, repaired: true };
  });
}
