// Config.Healthcheck and State.Health: Docker's health checks run a command inside the container
// (Test ["CMD", ...] or ["CMD-SHELL", "..."]), which a unikernel cannot do: those are refused by
// name. What maps: ["NONE"] (no health check, not even the image's), and an empty Test with
// timings (the image's own probe, a Cunikfile's health:, with Docker's --health-interval & co).
import type { CreateInstanceRequest, InstanceDetail } from '../../api/schemas.js';
import { invalid } from '../../errors.js';
import { int, obj } from './create.js';

const NS_PER_MS = 1_000_000;

/** A duration in nanoseconds (0 or absent: the default) as whole milliseconds. */
function ms(v: unknown, field: string): number | undefined {
  const ns = int(v, field);
  if (ns === undefined) return undefined;
  if (ns % NS_PER_MS !== 0) throw invalid(`${field} ${ns}ns is not supported: give whole milliseconds`, field);
  return ns / NS_PER_MS;
}

/** The native request's healthcheck for Docker's Config.Healthcheck. */
export function healthcheck(v: unknown): Pick<CreateInstanceRequest, 'healthcheck'> {
  if (v === undefined || v === null) return {};
  const h = obj(v, 'Healthcheck');
  const test = h['Test'];
  if (test !== undefined && test !== null && (!Array.isArray(test) || test.some((s) => typeof s !== 'string'))) throw invalid('Healthcheck.Test must be an array of strings', 'Healthcheck.Test');
  const t = (test ?? []) as string[];
  if (t[0] === 'NONE') return { healthcheck: { disable: true } };
  if (t.length > 0) {
    throw invalid(`Healthcheck.Test ${t[0]} is not supported: health checks that exec inside the guest have no counterpart (a unikernel runs no other process); probe from the host instead: cunik run --health-tcp PORT or --health-http [PORT]PATH, or a Cunikfile health: key`, 'Healthcheck.Test');
  }
  if (int(h['StartInterval'], 'Healthcheck.StartInterval') !== undefined) throw invalid('Healthcheck.StartInterval is not supported: probes keep one interval', 'Healthcheck.StartInterval');
  const retries = int(h['Retries'], 'Healthcheck.Retries');
  const out = {
    ...optional('intervalMs', ms(h['Interval'], 'Healthcheck.Interval')),
    ...optional('timeoutMs', ms(h['Timeout'], 'Healthcheck.Timeout')),
    ...optional('startPeriodMs', ms(h['StartPeriod'], 'Healthcheck.StartPeriod')),
    ...optional('retries', retries),
  };
  return Object.keys(out).length > 0 ? { healthcheck: out } : {};
}

const optional = <K extends string>(k: K, v: number | undefined): Partial<Record<K, number>> => (v === undefined ? {} : ({ [k]: v } as Record<K, number>));

/** State.Health as Docker shows it; absent without a health check. */
export function healthState(d: Pick<InstanceDetail, 'health'>): Record<string, unknown> {
  if (d.health === null) return {};
  return {
    Health: {
      Status: d.health.status,
      FailingStreak: d.health.failingStreak,
      Log: d.health.log.map((e) => ({ Start: e.start, End: e.end, ExitCode: e.exitCode, Output: e.output })),
    },
  };
}
