// Records as the API shows them.
import type { InstanceDetail, InstanceSummary } from '../api/schemas.js';
import { statusLine, type InstanceRecord } from './record.js';
import { NO_RESTART } from './restart.js';
import { DEFAULT_STOP_SIGNAL, DEFAULT_STOP_TIMEOUT } from './signals.js';
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
    labels: r.config.labels ?? {},
  };
}

/** A record's fields that change only by rename, serialised once: `{"id":...,"labels":{...}` (open). */
const fixedJson = new WeakMap<InstanceRecord, { name: string; json: string }>();

/**
 * The list as the API sends it: the same JSON as JSON.stringify(records.map(toSummary)), with each
 * record's unchanging fields serialised once and kept. A 1,000-instance `ps` otherwise rebuilt and
 * re-serialised 320 KB of mostly the same text every time.
 */
export function summariesJson(records: InstanceRecord[], now = Date.now()): string {
  const parts: string[] = new Array<string>(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    let fixed = fixedJson.get(r);
    if (fixed === undefined || fixed.name !== r.name) {
      const { id, name, image, imageId, family, created, args, labels } = toSummary(r);
      fixed = { name, json: JSON.stringify({ id, name, image, imageId, family, created, args, labels }).slice(0, -1) };
      fixedJson.set(r, fixed);
    }
    const ports = live(r) ? (r.network?.ports ?? []) : [];
    parts[i] = `${fixed.json},"state":${JSON.stringify(r.state)},"status":${JSON.stringify(statusLine(r, now))},"ports":${ports.length === 0 ? '[]' : JSON.stringify(ports)}}`;
  }
  // One join makes one flat string; 1,000 `+=` made a rope that was flattened on the way out.
  return `[${parts.join(',')}]`;
}

/**
 * The list's JSON with each summary's sizes (ps -s): `rw` measures an instance's own files, `image`
 * gives its image's bytes; sizeRootFs is both, as Docker's virtual size.
 */
export async function withSizes(records: InstanceRecord[], json: string, rw: (id: string) => Promise<number>, image: (r: InstanceRecord) => number): Promise<string> {
  const list = JSON.parse(json) as Record<string, unknown>[];
  const sizes = await Promise.all(records.map((r) => rw(r.id).catch(() => 0)));
  records.forEach((r, n) => Object.assign(list[n]!, { sizeRw: sizes[n], sizeRootFs: sizes[n]! + image(r) }));
  return JSON.stringify(list);
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
    exitSource: r.exitSource ?? (r.exitCode === null ? null : r.exitCodeKnown === false ? 'unknown' : 'guest'),
    error: r.error ?? null,
    pid: r.pid,
    ...(r.extraNetworks !== undefined && r.extraNetworks.length > 0 && { extraNetworks: r.extraNetworks }),
    config: {
      ...r.config,
      restartPolicy: r.config.restartPolicy ?? NO_RESTART,
      network: r.config.network ?? 'none',
      ports: r.config.ports ?? [],
      stopSignal: r.config.stopSignal ?? DEFAULT_STOP_SIGNAL,
      stopTimeout: r.config.stopTimeout ?? DEFAULT_STOP_TIMEOUT,
    },
    network: r.network ?? null,
    mounts: (r.config.mounts ?? []).map(mountView),
    health: r.config.health !== undefined ? (r.health ?? { status: 'starting', failingStreak: 0, log: [] }) : null,
    restartCount: r.restartCount ?? 0,
    vm: r.vm,
    paths: { dir: paths.dir, consoleLog: paths.consoleLog },
  };
}
