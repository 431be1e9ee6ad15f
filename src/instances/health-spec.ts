// Health checks suited to unikernels: nothing runs inside the guest besides its app, so a check is a
// probe from the host to the guest's address (health.ts runs them). Pure here: the settings an
// instance gets from its request and its image (label org.cunik.healthcheck, from the Cunikfile's
// `health:`), and Docker's state machine (daemon/health.go): a success makes it healthy, `retries`
// failures in a row (not counting those in the start period) unhealthy; the last 5 results are kept.
import { inRange, LIMITS, rangeText, type Range } from '../api/limits.js';
import type { PortBinding } from '../api/schemas.js';
import { invalid } from '../errors.js';
import { parseDurationUs } from '../events/time.js';

/** The image label holding a Cunikfile's `health:` (a HealthRequest as JSON). */
export const HEALTH_LABEL = 'org.cunik.healthcheck';

/** What a request (run --health-*) or an image asks for; every field optional. */
export interface HealthRequest {
  /** Healthy when a TCP connection to this guest port succeeds. */
  tcpPort?: number | undefined;
  /** Healthy when GET of this path answers 2xx or 3xx. */
  httpPath?: string | undefined;
  /** The HTTP probe's guest port (default: the first published TCP port, else the first the image exposes). */
  httpPort?: number | undefined;
  intervalMs?: number | undefined;
  timeoutMs?: number | undefined;
  retries?: number | undefined;
  startPeriodMs?: number | undefined;
  /** No health check, not even the image's (run --no-healthcheck, Docker's NONE). */
  disable?: boolean | undefined;
}

/** An instance's health check as stored in its record (config.health). */
export interface HealthSettings {
  test: 'tcp' | 'http';
  /** The guest port probed. */
  port: number;
  /** http: the path asked for. */
  path?: string;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  /** An unhealthy instance is ended and its restart policy applied as to a failure (run --restart-on-unhealthy). */
  restartOnUnhealthy?: boolean;
}

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** One probe's result, as Docker's State.Health.Log entries (exitCode 0: healthy, 1: not). */
export interface HealthLogEntry {
  start: string;
  end: string;
  exitCode: number;
  output: string;
}

export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
  log: HealthLogEntry[];
}

/** Docker's defaults (30s, 30s, 3, 0). */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 } as const;
export const HEALTH_LOG_ENTRIES = 5;

const TIMING: [keyof HealthRequest & keyof typeof HEALTH_DEFAULTS, Range, string][] = [
  ['intervalMs', LIMITS.healthIntervalMs, 'health-interval'],
  ['timeoutMs', LIMITS.healthTimeoutMs, 'health-timeout'],
  ['retries', LIMITS.healthRetries, 'health-retries'],
  ['startPeriodMs', LIMITS.healthStartPeriodMs, 'health-start-period'],
];

/** Refuse what no health check can be made of (a request or an image's label): one line. */
export function checkHealthRequest(h: HealthRequest, what = 'healthcheck'): void {
  if (h.tcpPort !== undefined && h.httpPath !== undefined) throw invalid(`${what}: give either a TCP or an HTTP probe, not both`, 'healthcheck');
  if (h.httpPort !== undefined && h.httpPath === undefined) throw invalid(`${what}: an HTTP port needs an HTTP path`, 'healthcheck');
  for (const [key, n] of [['tcpPort', h.tcpPort], ['httpPort', h.httpPort]] as const) {
    if (n !== undefined && !inRange(n, LIMITS.guestPort)) throw invalid(`${what}: ${key} ${n} is out of range (${rangeText(LIMITS.guestPort)})`, 'healthcheck');
  }
  if (h.httpPath !== undefined && !/^\/[\x21-\x7e]*$/.test(h.httpPath)) throw invalid(`${what}: the HTTP path must start with / and have no spaces or control characters (got ${JSON.stringify(h.httpPath)})`, 'healthcheck');
  for (const [key, range, flag] of TIMING) {
    const v = h[key];
    if (v !== undefined && !inRange(v, range)) throw invalid(`${what}: --${flag} ${v} is out of range (${rangeText(range)})`, 'healthcheck');
  }
}

/** The image's health check (its label), or undefined; a damaged label is refused at create. */
export function imageHealth(labels: Record<string, string>): HealthRequest | undefined {
  const text = labels[HEALTH_LABEL];
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`the image's ${HEALTH_LABEL} label is not a JSON object`, 'healthcheck');
  const known = ['tcpPort', 'httpPath', 'httpPort', 'intervalMs', 'timeoutMs', 'retries', 'startPeriodMs'];
  const h = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(h)) {
    if (!known.includes(k) || (k === 'httpPath' ? typeof v !== 'string' : typeof v !== 'number')) throw invalid(`the image's ${HEALTH_LABEL} label has a bad field ${JSON.stringify(k)}`, 'healthcheck');
  }
  checkHealthRequest(h as HealthRequest, `the image's ${HEALTH_LABEL} label`);
  return h as HealthRequest;
}

/** "[PORT]PATH" (run --health-http, a Cunikfile's health.http): "80/healthz", "/healthz", "8080" (path /); undefined if not one. */
export function parseHttpProbe(value: string): { port?: number; path: string } | undefined {
  const m = /^(\d{1,5})?(\/[\x21-\x7e]*)?$/.exec(value);
  if (m === null || (m[1] === undefined && m[2] === undefined)) return undefined;
  const port = m[1] !== undefined ? Number(m[1]) : undefined;
  if (port !== undefined && !inRange(port, LIMITS.guestPort)) return undefined;
  return { ...(port !== undefined && { port }), path: m[2] ?? '/' };
}

/** A Go-style duration ("200ms", "30s", "1m30s") in whole milliseconds within `range`; undefined if not one. */
export function parseHealthDuration(value: string, range: Range): number | undefined {
  const us = parseDurationUs(value);
  const ms = us === undefined ? NaN : us / 1000;
  return inRange(ms, range) ? ms : undefined;
}

const hasTest = (h: HealthRequest | undefined): boolean => h?.tcpPort !== undefined || h?.httpPath !== undefined;

export interface HealthContext {
  /** The instance's published ports (as requested). */
  ports: Pick<PortBinding, 'guestPort' | 'proto'>[];
  /** The TCP ports the image exposes (label org.cunik.ports), in order. */
  exposed: number[];
  network: string;
  /** The instance's restart policy (restartOnUnhealthy needs one). */
  restartPolicy: string;
}

/**
 * The instance's health check: the request's probe, else the image's; each timing the request's,
 * else the image's, else Docker's default. None with `disable`, or when neither has a probe.
 */
export function resolveHealth(req: HealthRequest | undefined, image: HealthRequest | undefined, restartOnUnhealthy: boolean, ctx: HealthContext): HealthSettings | undefined {
  if (req !== undefined) checkHealthRequest(req);
  if (req?.disable === true) {
    if (hasTest(req)) throw invalid('conflicting options: --no-healthcheck and --health-tcp/--health-http', 'healthcheck');
    if (restartOnUnhealthy) throw invalid('conflicting options: --restart-on-unhealthy and --no-healthcheck', 'restartOnUnhealthy');
    return undefined;
  }
  const probe = hasTest(req) ? req! : hasTest(image) ? image! : undefined;
  if (probe === undefined) {
    const timing = TIMING.find(([k]) => req?.[k] !== undefined);
    if (timing !== undefined) throw invalid(`--${timing[2]} needs a probe: --health-tcp PORT or --health-http [PORT]PATH (the image has no health check)`, 'healthcheck');
    if (restartOnUnhealthy) throw invalid('--restart-on-unhealthy needs a health check: --health-tcp PORT or --health-http [PORT]PATH (the image has none)', 'restartOnUnhealthy');
    return undefined;
  }
  if (restartOnUnhealthy && ctx.restartPolicy === 'no') throw invalid('--restart-on-unhealthy needs a restart policy: --restart on-failure[:N], always or unless-stopped', 'restartOnUnhealthy');
  if (ctx.network === 'none') throw invalid('conflicting options: a health check probes the guest over its network (not --network none); give --no-healthcheck to run without one', 'healthcheck');
  const timings = Object.fromEntries(TIMING.map(([k]) => [k, req?.[k] ?? image?.[k] ?? HEALTH_DEFAULTS[k]])) as Pick<HealthSettings, 'intervalMs' | 'timeoutMs' | 'retries' | 'startPeriodMs'>;
  let base: Pick<HealthSettings, 'test' | 'port' | 'path'>;
  if (probe.tcpPort !== undefined) base = { test: 'tcp', port: probe.tcpPort };
  else {
    const port = probe.httpPort ?? ctx.ports.find((p) => p.proto === 'tcp')?.guestPort ?? ctx.exposed[0];
    if (port === undefined) throw invalid(`--health-http ${probe.httpPath}: which port? Give it as PORT${probe.httpPath} (the instance publishes no TCP port and the image exposes none)`, 'healthcheck');
    base = { test: 'http', port, path: probe.httpPath! };
  }
  return { ...base, ...timings, ...(restartOnUnhealthy && { restartOnUnhealthy: true }) };
}

/** The state after one probe (Docker's handleProbeResult): `inStartPeriod` failures do not count. */
export function afterProbe(state: HealthState, entry: HealthLogEntry, retries: number, inStartPeriod: boolean): HealthState {
  const log = [...state.log, entry].slice(-HEALTH_LOG_ENTRIES);
  if (entry.exitCode === 0) return { status: 'healthy', failingStreak: 0, log };
  if (inStartPeriod && state.status !== 'healthy') return { ...state, log };
  const failingStreak = state.failingStreak + 1;
  return { status: failingStreak >= retries ? 'unhealthy' : state.status, failingStreak, log };
}

/** A fresh run's health: starting, no failures; the earlier runs' results stay (as Docker's). */
export function startingHealth(previous: HealthState | null | undefined): HealthState {
  return { status: 'starting', failingStreak: 0, log: previous?.log ?? [] };
}

/** ps's STATUS suffix, as Docker's: "(healthy)", "(unhealthy)", "(health: starting)". */
export function healthSuffix(status: HealthStatus): string {
  return status === 'starting' ? '(health: starting)' : `(${status})`;
}
