// Pure parsers for run/create's --health-* flags, and the request's healthcheck they make.
// Ranges are the API's (api/limits.ts); durations are Go's, as Docker's (30s, 1m30s, 200ms).
import { inRange, LIMITS, rangeText, type Range } from '../api/limits.js';
import type { CreateInstanceRequest } from '../api/schemas.js';
import { parseHealthDuration, parseHttpProbe } from '../instances/health-spec.js';

type HealthcheckRequest = NonNullable<CreateInstanceRequest['healthcheck']>;

/** --health-tcp PORT. */
export function parseHealthTcp(value: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!inRange(n, LIMITS.guestPort)) throw new Error(`invalid --health-tcp: ${value} (a guest port ${rangeText(LIMITS.guestPort)})`);
  return n;
}

/** --health-http [PORT]PATH: "80/healthz", "/healthz" (the port: the first published or exposed one), "8080" (path /). */
export function parseHealthHttp(value: string): { port?: number; path: string } {
  const probe = parseHttpProbe(value);
  if (probe === undefined) throw new Error(`invalid --health-http: ${JSON.stringify(value)} (give [PORT]PATH, e.g. 80/healthz or /healthz; the path has no spaces)`);
  return probe;
}

/** A Go-style duration in whole milliseconds within `range`. */
function duration(flag: string, range: Range) {
  return (value: string): number => {
    const ms = parseHealthDuration(value, range);
    if (ms === undefined) throw new Error(`invalid --${flag}: ${value} (a duration such as 200ms, 30s or 1m30s, ${rangeText(range)})`);
    return ms;
  };
}

export const parseHealthInterval = duration('health-interval', LIMITS.healthIntervalMs);
export const parseHealthTimeout = duration('health-timeout', LIMITS.healthTimeoutMs);
export const parseHealthStartPeriod = duration('health-start-period', LIMITS.healthStartPeriodMs);

export function parseHealthRetries(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!inRange(n, LIMITS.healthRetries)) throw new Error(`invalid --health-retries: ${value} (a whole number ${rangeText(LIMITS.healthRetries)})`);
  return n;
}

export interface HealthFlags {
  healthTcp?: number;
  healthHttp?: { port?: number; path: string };
  healthInterval?: number;
  healthTimeout?: number;
  healthRetries?: number;
  healthStartPeriod?: number;
  /** commander's --no-healthcheck: false when given. */
  healthcheck?: boolean;
  restartOnUnhealthy?: boolean;
}

/** The request's healthcheck and restartOnUnhealthy; nothing when no flag was given (the image's applies). */
export function healthRequest(f: HealthFlags): Pick<CreateInstanceRequest, 'healthcheck' | 'restartOnUnhealthy'> {
  if (f.healthTcp !== undefined && f.healthHttp !== undefined) throw new Error('conflicting options: --health-tcp and --health-http (one probe per instance)');
  const h: HealthcheckRequest = {
    ...(f.healthTcp !== undefined && { tcpPort: f.healthTcp }),
    ...(f.healthHttp !== undefined && { httpPath: f.healthHttp.path, ...(f.healthHttp.port !== undefined && { httpPort: f.healthHttp.port }) }),
    ...(f.healthInterval !== undefined && { intervalMs: f.healthInterval }),
    ...(f.healthTimeout !== undefined && { timeoutMs: f.healthTimeout }),
    ...(f.healthRetries !== undefined && { retries: f.healthRetries }),
    ...(f.healthStartPeriod !== undefined && { startPeriodMs: f.healthStartPeriod }),
    ...(f.healthcheck === false && { disable: true }),
  };
  return { ...(Object.keys(h).length > 0 && { healthcheck: h }), ...(f.restartOnUnhealthy === true && { restartOnUnhealthy: true }) };
}
