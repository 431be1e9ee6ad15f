// What `logs` and `attach` stream for an instance, decided by its state (the domain's call, not
// the HTTP layer's): whether logs follow, where an attach's output comes from, which states refuse
// an attach. A following stream waits for the instance's next exit, and that wait goes when the
// stream closes (nothing outlives a client that hung up).
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../api/detach-keys.js';
import type { AttachQuery, LogsQuery } from '../api/schemas.js';
import { conflict, invalid } from '../errors.js';
import type { ConsoleManager } from './console.js';
import { parseLogsOptions, readConsole } from './logs.js';
import type { InstanceService } from './service.js';

export interface ConsoleStreamDeps {
  instances: Pick<InstanceService, 'get' | 'isRunning' | 'wait'>;
  consoles: Pick<ConsoleManager, 'source' | 'attach'>;
}

/** A stream that follows the instance until its next exit; its wait goes when the stream closes. */
function untilExit(deps: ConsoleStreamDeps, id: string, open: (exited: Promise<number>) => Readable): Readable {
  const closed = new AbortController();
  const exited = deps.instances.wait(id, 'next-exit', closed.signal);
  exited.catch(() => undefined); // abandoned: the stream is closed already
  const stream = open(exited);
  stream.once('close', () => closed.abort());
  return stream;
}

/** The console as `logs` reads it: followed (until the next exit) only while it can still grow. */
export function logsStream(deps: ConsoleStreamDeps, ref: string, q: LogsQuery): Readable {
  const r = deps.instances.get(ref);
  const opts = parseLogsOptions(q, Date.now());
  const follow = (q.follow ?? false) && (r.state === 'created' || deps.instances.isRunning(r.id));
  if (!follow) return readConsole(deps.consoles.source(r.id, false), { ...opts, follow, timestamps: q.timestamps });
  return untilExit(deps, r.id, (exited) => readConsole(deps.consoles.source(r.id, true), { ...opts, follow, exited, timestamps: q.timestamps }));
}

/** Checks an attach (throws at once), then returns what joins a client's connection to the console. */
export function attachSession(deps: ConsoleStreamDeps, ref: string, q: AttachQuery): (connection: Socket) => void {
  const r = deps.instances.get(ref);
  if (r.state === 'paused') throw conflict(`cannot attach to paused instance ${r.name}: unpause it first`);
  // An exited instance is attached as Docker's API does (docker start -a attaches, then starts):
  // the output of its next run. `cunik attach` refuses a stopped instance itself, before it asks.
  const next = r.state === 'created' || r.state === 'restarting' || r.state === 'exited';
  if (!next && !deps.instances.isRunning(r.id)) throw conflict(`cannot attach to stopped instance ${r.name}: start it first`);
  let detachKeys: Buffer;
  try {
    detachKeys = parseDetachKeys(q.detachKeys ?? DEFAULT_DETACH_KEYS);
  } catch (err) {
    throw invalid((err as Error).message, 'detachKeys');
  }
  // Not started yet (run -i/-t, start -a): the output comes from the log, so the first byte is not
  // missed. (Only when the client reads the output: a stream nobody reads would never be closed.)
  const fromLog = next && (q.stdout ?? true);
  return (connection) => {
    // A created instance has printed nothing yet; a restarting or exited one only in earlier runs.
    const output = fromLog ? untilExit(deps, r.id, (exited) => readConsole(deps.consoles.source(r.id, true), { follow: true, fromEnd: r.state !== 'created', exited })) : undefined;
    deps.consoles.attach(r.id, connection, { stdin: q.stdin ?? true, stdout: q.stdout ?? true, detachKeys, output });
  };
}
