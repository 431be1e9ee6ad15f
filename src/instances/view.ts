// Records as the API shows them.
import type { InstanceDetail, InstanceSummary } from '../api/schemas.js';
import { statusLine, type InstanceRecord } from './record.js';
import { NO_RESTART } from './restart.js';
import { mountView } from '../volumes/mounts.js';

const live = (r: InstanceRecord): boolean => r.state === 'running' || r.state === 'paused';

export function toSummary(r: InstanceRecord): InstanceSummary {
  return {
    id: r.id,
    name: r.name,
    image: r.image,
    imageId: r.imageId,
    family: r.family,
    state: r.state,
    status: statusLine(r),
    created: r.created,
    args: r.config.args.length ? r.config.args : r.boot.args,
    // As docker ps: ports are shown while the VM holds them.
    ports: live(r) ? (r.network?.ports ?? []) : [],
  };
}

export function toDetail(r: InstanceRecord, paths: { dir: string; consoleLog: string }): InstanceDetail {
  const { args: _args, ...summary } = toSummary(r);
  return {
    ...summary,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    exitCode: r.exitCode,
    exitCodeKnown: r.exitCodeKnown ?? (r.exitCode === null ? null : true),
    exitNote: r.exitNote ?? null,
    pid: r.pid,
    config: { ...r.config, restartPolicy: r.config.restartPolicy ?? NO_RESTART, network: r.config.network ?? 'none', ports: r.config.ports ?? [] },
    network: r.network ?? null,
    mounts: (r.config.mounts ?? []).map(mountView),
    restartCount: r.restartCount ?? 0,
    vm: r.vm,
    paths: { dir: paths.dir, consoleLog: paths.consoleLog },
  };
}
