// Pure parsers for flag values, unit-tested. Every range is the API's (api/limits.ts).
import { isIPv4 } from 'node:net';
import { inRange, LIMITS, rangeText, type Range } from '../api/limits.js';
import { MiB, parseSize } from '../util/size.js';
import { VOLUME_NAME } from '../volumes/types.js';
import { RESTART_POLICY_NAMES, type RestartPolicyName, type RestartPolicySettings } from '../api/rules.js';

/** A whole number written in decimal digits, within `range`; `what` names it in the message. */
function wholeNumber(value: string, what: string, range: Range): number {
  const n = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!inRange(n, range)) throw new Error(`invalid ${what}: ${value.trim() === '' ? JSON.stringify(value) : value} (a whole number ${rangeText(range)})`);
  return n;
}

/** "64m", "64MiB", "1g", "512" (MiB) → MiB; throws with a clear message otherwise. */
export function parseMemoryMiB(value: string): number {
  const bytes = parseSize(value, 'm');
  if (bytes === undefined) throw new Error(`invalid memory value: ${value} (use e.g. 64m, 512M, 1g)`);
  const mib = bytes / MiB;
  if (!Number.isInteger(mib)) throw new Error(`invalid memory value: ${value} (must be a whole number of MiB)`);
  if (mib < LIMITS.memoryMiB.min) throw new Error(`invalid memory value: ${value} (at least ${LIMITS.memoryMiB.min} MiB)`);
  if (mib > LIMITS.memoryMiB.max) throw new Error(`invalid memory value: ${value} (at most 1 TiB)`);
  return mib;
}

/** --cpus; the daemon also refuses more than its host's CPUs (unless --cpu-overcommit). */
export function parseCpus(value: string): number {
  return wholeNumber(value, 'cpus value', LIMITS.cpus);
}

export function parseEnv(value: string, previous: string[] = []): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_.]*=/.test(value)) throw new Error(`invalid environment variable: ${value} (use KEY=VALUE)`);
  return [...previous, value];
}

export function parseSeconds(value: string): number {
  return wholeNumber(value, 'time value', LIMITS.stopTimeoutSeconds);
}

/** logs --tail: a number of lines, or "all". */
export function parseTail(value: string): number | 'all' {
  if (value === 'all') return 'all';
  if (!/^[0-9]+$/.test(value.trim()) || !inRange(Number(value), LIMITS.tailLines)) throw new Error(`invalid --tail value: ${value === '' ? '""' : value} (a number of lines, or "all")`);
  return Number(value);
}


/** "on-failure:3" → { name: 'on-failure', maximumRetryCount: 3 }. */
export function parseRestartPolicy(value: string): RestartPolicySettings {
  const [name, count, ...rest] = value.split(':');
  if (!RESTART_POLICY_NAMES.includes(name as RestartPolicyName) || rest.length > 0) {
    throw new Error(`invalid restart policy: ${value} (no, on-failure[:N], always or unless-stopped)`);
  }
  if (count !== undefined) {
    if (name !== 'on-failure') throw new Error(`invalid restart policy: ${value} (only on-failure takes a retry count)`);
    if (!/^\d+$/.test(count) || !inRange(Number(count), LIMITS.restartRetries)) throw new Error(`invalid restart policy: ${value} (the retry count is a whole number ${rangeText(LIMITS.restartRetries)})`);
  }
  return { name: name as RestartPolicyName, maximumRetryCount: count === undefined ? 0 : Number(count) };
}


export interface PublishSpec {
  guestPort: number;
  proto: 'tcp' | 'udp';
  hostIp?: string;
  /** Absent: a free port chosen by the daemon at each start. */
  hostPort?: number;
}

function portNumber(text: string, value: string, what: string): number {
  if (!/^\d{1,5}$/.test(text) || !inRange(Number(text), LIMITS.guestPort)) throw new Error(`invalid port mapping: ${value} (${what} must be a port number ${rangeText(LIMITS.guestPort)})`);
  return Number(text);
}

/** "80" or "80-90": the ports, first to last. */
function portRange(text: string, value: string, what: string): number[] {
  const m = /^([^-]+)-([^-]+)$/.exec(text);
  if (m === null) return [portNumber(text, value, what)];
  const [first, last] = [portNumber(m[1]!, value, what), portNumber(m[2]!, value, what)];
  if (last < first) throw new Error(`invalid port mapping: ${value} (${what} range ends before it starts)`);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/**
 * Docker's -p syntax: [[HOSTIP:][HOSTPORT]:]GUESTPORT[/tcp|/udp]. "8080:80", "127.0.0.1:8080:80",
 * "127.0.0.1::80" (any free host port on that address), "80" (any free port, all addresses),
 * "53:53/udp"; ranges of equal length "8080-8082:80-82", or "80-82" (free host ports for each).
 * The host address must be IPv4 (the guests' networks are IPv4 only).
 */
export function parsePublish(value: string, previous: PublishSpec[] = []): PublishSpec[] {
  const slash = value.lastIndexOf('/');
  const proto = slash >= 0 ? value.slice(slash + 1).toLowerCase() : 'tcp';
  if (proto !== 'tcp' && proto !== 'udp') throw new Error(`invalid port mapping: ${value} (the protocol is tcp or udp)`);
  const mapping = slash >= 0 ? value.slice(0, slash) : value;
  if (mapping.startsWith('[')) throw new Error(`invalid port mapping: ${value} (ports are published on IPv4 addresses only)`);
  const parts = mapping.split(':');
  if (parts.length > 3) throw new Error(`invalid port mapping: ${value} (use [HOSTIP:][HOSTPORT:]GUESTPORT[/udp])`);
  const guest = portRange(parts[parts.length - 1]!, value, 'the guest port');
  const host = parts.length >= 2 && parts[parts.length - 2] !== '' ? portRange(parts[parts.length - 2]!, value, 'the host port') : undefined;
  if (host !== undefined && host.length !== guest.length) throw new Error(`invalid port mapping: ${value} (the host and guest port ranges must be of one length)`);
  let hostIp: string | undefined;
  if (parts.length === 3) {
    hostIp = parts[0]!;
    if (!isIPv4(hostIp)) throw new Error(`invalid port mapping: ${value} (the host address must be an IPv4 address like 127.0.0.1)`);
  }
  if (previous.length + guest.length > MAX_PUBLISHED) throw new Error(`invalid port mapping: ${value} (at most ${MAX_PUBLISHED} ports can be published)`);
  const specs = guest.map((guestPort, i): PublishSpec => ({ guestPort, proto, ...(hostIp !== undefined && { hostIp }), ...(host !== undefined && { hostPort: host[i]! }) }));
  return [...previous, ...specs];
}

/** As the API takes at most (schemas.ts CreateInstanceRequest.ports). */
const MAX_PUBLISHED = 64; // the API's maxItems

/** --network: user (the default) or none. */
/** --network: user, none, bridge (the default bridge network) or the name of a network made by `cunik network create`. */
/** One --network: NAME, or Docker's long form name=NAME[,ip=ADDR][,ip6=ADDR][,mac-address=MAC][,alias=A]... (alias repeatable). */
export interface NetworkSpec {
  network: string;
  ip?: string;
  ip6?: string;
  macAddress?: string;
  aliases?: string[];
}

const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** --network, repeatable: each one is a NIC of its own (commander's accumulator). */
export function parseNetwork(value: string, previous: NetworkSpec[] = []): NetworkSpec[] {
  if (NETWORK_NAME_RE.test(value)) return [...previous, { network: value }];
  if (value.startsWith('name=')) {
    const spec: Partial<NetworkSpec> = {};
    for (const part of value.split(',')) {
      const eq = part.indexOf('=');
      const key = part.slice(0, Math.max(eq, 0));
      const v = part.slice(eq + 1);
      if (key === 'name' && NETWORK_NAME_RE.test(v)) spec.network = v;
      else if (key === 'ip' && v !== '') spec.ip = v;
      else if (key === 'ip6' && v !== '') spec.ip6 = v;
      else if (key === 'mac-address' && v !== '') spec.macAddress = v;
      else if (key === 'alias' && v !== '') spec.aliases = [...(spec.aliases ?? []), v];
      else throw new Error(`invalid network option ${JSON.stringify(part)} (name=NAME[,ip=ADDR][,ip6=ADDR][,mac-address=MAC][,alias=A])`);
    }
    return [...previous, spec as NetworkSpec];
  }
  throw new Error(`invalid network: ${JSON.stringify(value)} (user, none, bridge or a network's name)`);
}

/** What -v/--volume asks for (the API's MountRequest). */
export interface VolumeSpec {
  type: 'volume' | 'bind';
  /** volume: its name (absent: an anonymous volume); bind: the absolute host folder. */
  source?: string;
  target: string;
  readonly?: boolean;
}


/**
 * Docker's -v syntax: NAME:/guest/path[:ro|rw] (a named volume, made if missing),
 * /host/dir:/guest/path[:ro|rw] (a host folder), /guest/path (an anonymous volume).
 */
export function parseVolumeSpec(value: string, previous: VolumeSpec[] = []): VolumeSpec[] {
  const bad = (why: string): never => {
    throw new Error(`invalid volume specification: ${JSON.stringify(value)}: ${why}`);
  };
  const parts = value.split(':');
  if (parts.length > 3) bad('use NAME:/GUEST/PATH[:ro], /HOST/DIR:/GUEST/PATH[:ro] or /GUEST/PATH');
  if (parts.some((p) => p === '')) bad('empty part');
  const absolute = (p: string, what: string): string => (p.startsWith('/') ? p : bad(`the ${what} must be an absolute path`));
  if (parts.length === 1) return [...previous, { type: 'volume', target: absolute(parts[0]!, 'guest path') }];
  const [source, target, mode] = parts as [string, string, string | undefined];
  let readonly: boolean | undefined;
  for (const opt of mode === undefined ? [] : mode.split(',')) {
    if (opt !== 'ro' && opt !== 'rw') bad(`unknown option "${opt}" (ro or rw)`);
    if (readonly !== undefined && readonly !== (opt === 'ro')) bad('both ro and rw');
    readonly = opt === 'ro';
  }
  const spec: VolumeSpec = source.startsWith('/')
    ? { type: 'bind', source, target: absolute(target, 'guest path') }
    : VOLUME_NAME.test(source)
      ? { type: 'volume', source, target: absolute(target, 'guest path') }
      : bad(`"${source}" is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+); a host folder must be an absolute path`);
  if (readonly !== undefined) spec.readonly = readonly;
  return [...previous, spec];
}

/** "64m", "1g", "512k", "1048576" (bytes) → bytes: sizes of block volumes. */
export function parseSizeBytes(value: string): number {
  const bytes = parseSize(value);
  if (bytes === undefined) throw new Error(`invalid size: ${value} (use e.g. 64m, 1g)`);
  if (!Number.isInteger(bytes) || bytes <= 0) throw new Error(`invalid size: ${value} (a whole number of bytes)`);
  if (!inRange(bytes, LIMITS.volumeSizeBytes)) throw new Error(`invalid size: ${value} (from 8 MiB to 16 TiB)`);
  return bytes;
}

/** --label KEY=VALUE (repeatable; KEY alone: an empty value, as Docker). */
export function parseLabel(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  const key = eq < 0 ? value : value.slice(0, eq);
  if (key === '') throw new Error(`invalid label: ${value} (use KEY=VALUE)`);
  return { ...previous, [key]: eq < 0 ? '' : value.slice(eq + 1) };
}

/**
 * An --env-file's text, Docker's format: KEY=VALUE lines (the value verbatim, quotes and all),
 * blank lines and `#` comments skipped, a bare KEY taking its value from `env` (left out when unset).
 */
export function parseEnvFileText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line.trimEnd() : line.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(key)) throw new Error(`invalid environment variable in ${file} line ${i + 1}: ${JSON.stringify(raw)} (use KEY=VALUE)`);
    if (eq >= 0) out.push(line);
    else if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
  });
  return out;
}

/** A --label-file's text: KEY=VALUE lines, blank lines and `#` comments skipped. */
export function parseLabelFileText(text: string, previous: Record<string, string> = {}): Record<string, string> {
  let labels = previous;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line !== '' && !line.startsWith('#')) labels = parseLabel(line, labels);
  }
  return labels;
}

