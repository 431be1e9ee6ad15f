// The stored instance record (instances/<id>/instance.json) as a TypeBox schema: a record is
// checked against it when the daemon reads it, so a damaged or hand-edited file is set aside
// (store.ts: quarantine) instead of reaching code that trusts its types. Fields a later version
// may add are allowed; fields older records lack are optional, as in record.ts.
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { ExitSource, InstanceState, NetworkEndpoint, NetworkMode, NetworkSettings, PortBinding } from '../api/schemas.js';
import { NAME_PATTERN } from '../api/rules.js';
import type { InstanceRecord } from './record.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Strings = Type.Array(Type.String());

const StoredRestartPolicy = Type.Object({
  name: Type.Union([Type.Literal('no'), Type.Literal('on-failure'), Type.Literal('always'), Type.Literal('unless-stopped')]),
  maximumRetryCount: Type.Integer({ minimum: 0 }),
});

const StoredMount = Type.Object({
  type: Type.Union([Type.Literal('volume'), Type.Literal('bind')]),
  name: Type.Optional(Type.String()),
  source: Type.String(),
  target: Type.String(),
  readonly: Type.Boolean(),
  kind: Type.Union([Type.Literal('block'), Type.Literal('share')]),
  anonymous: Type.Optional(Type.Boolean()),
});

const StoredHealthSettings = Type.Object({
  test: Type.Union([Type.Literal('tcp'), Type.Literal('http')]),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  path: Type.Optional(Type.String()),
  intervalMs: Type.Integer({ minimum: 1 }),
  timeoutMs: Type.Integer({ minimum: 1 }),
  retries: Type.Integer({ minimum: 1 }),
  startPeriodMs: Type.Integer({ minimum: 0 }),
  restartOnUnhealthy: Type.Optional(Type.Boolean()),
});

const StoredHealthState = Type.Object({
  status: Type.Union([Type.Literal('starting'), Type.Literal('healthy'), Type.Literal('unhealthy')]),
  failingStreak: Type.Integer({ minimum: 0 }),
  log: Type.Array(Type.Object({ start: Type.String(), end: Type.String(), exitCode: Type.Integer(), output: Type.String() })),
});

const StoredBoot = Type.Object({
  family: Type.String(),
  boot: Type.String(),
  kernelPath: Type.Optional(Type.String()),
  initrdPath: Type.Optional(Type.String()),
  diskPath: Type.Optional(Type.String()),
  args: Strings,
  env: Strings,
  memoryMiB: Type.Integer(),
  cpus: Type.Integer(),
  labels: Type.Record(Type.String(), Type.String()),
  stopSignal: Type.Optional(Type.String()),
  stopTimeout: Type.Optional(Type.Integer({ minimum: 0 })),
});

export const StoredInstanceRecord = Type.Object({
  id: Type.String({ pattern: '^[a-f0-9]{64}$' }),
  name: Type.String({ pattern: NAME_PATTERN }),
  image: Type.String(),
  imageId: Type.String(),
  family: Type.String(),
  state: InstanceState,
  created: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
  exitCode: Nullable(Type.Integer()),
  exitCodeKnown: Type.Optional(Nullable(Type.Boolean())),
  exitNote: Type.Optional(Nullable(Type.String())),
  exitSource: Type.Optional(Nullable(ExitSource)),
  error: Type.Optional(Nullable(Type.String())),
  pid: Nullable(Type.Integer({ minimum: 1 })),
  supervisorPid: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  consoleStart: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  config: Type.Object({
    args: Strings,
    env: Strings,
    memoryMiB: Type.Integer({ minimum: 1 }),
    cpus: Type.Integer({ minimum: 1 }),
    autoRemove: Type.Boolean(),
    restartPolicy: Type.Optional(StoredRestartPolicy),
    network: Type.Optional(NetworkMode),
    ip: Type.Optional(Type.String()),
    ip6: Type.Optional(Type.String()),
    aliases: Type.Optional(Type.Array(Type.String())),
    macAddress: Type.Optional(Type.String()),
    extraNetworks: Type.Optional(Type.Array(NetworkEndpoint)),
    ports: Type.Optional(Type.Array(PortBinding)),
    mounts: Type.Optional(Type.Array(StoredMount)),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    stopSignal: Type.Optional(Type.String()),
    stopTimeout: Type.Optional(Type.Integer({ minimum: 0 })),
    health: Type.Optional(StoredHealthSettings),
  }),
  health: Type.Optional(Nullable(StoredHealthState)),
  healthTarget: Type.Optional(Nullable(Type.Object({ host: Type.String(), port: Type.Integer({ minimum: 1, maximum: 65535 }), forwarded: Type.Optional(Type.Boolean()) }))),
  network: Type.Optional(Nullable(NetworkSettings)),
  extraNetworks: Type.Optional(Type.Array(NetworkSettings)),
  restartCount: Type.Optional(Type.Integer({ minimum: 0 })),
  manuallyStopped: Type.Optional(Type.Boolean()),
  boot: StoredBoot,
  vm: Type.Object({ driver: Type.String(), machine: Type.String(), accelerator: Nullable(Type.String()), argv: Strings }),
});
type Stored = Static<typeof StoredInstanceRecord>;

// The schema and record.ts's interface must describe the same thing, both ways.
const toRecord = (s: Stored): InstanceRecord => s;
const toStored = (r: InstanceRecord): Stored => r;
void toRecord;
void toStored;

const validator = Compile(StoredInstanceRecord);

/**
 * The record in `text`, or why it is not one: "not JSON (...)" or the first field at fault,
 * e.g. "/name: expected string". `dirName` is the directory it was read from: a record must
 * carry its own directory's id (paths are derived from it).
 */
export function parseStoredRecord(text: string, dirName: string): { record: InstanceRecord } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: text.length === 0 ? 'the file is empty' : `not JSON (${(err as Error).message})` };
  }
  if (!validator.Check(value)) {
    const first = validator.Errors(value)[0];
    return { error: first ? `${first.instancePath || 'the record'}: ${first.message}` : 'not an instance record' };
  }
  if (value.id !== dirName) return { error: `its id ${value.id.slice(0, 12)} is not its directory's` };
  return { record: value };
}
