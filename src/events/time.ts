// Timestamps for `since`/`until`, in the forms Docker accepts (docker/api/types/time.GetTimestamp):
//   - a duration relative to now, Go style: "10s", "5m", "1h30m", "1.5h", "250ms" (but not "0");
//   - an RFC 3339 date-time, "2026-11-22T04:00:00Z", "2026-11-22T04:00:00.123456789+02:00";
//     without a zone, "2026-11-22T04:00:00", "2026-11-22T04:00" and "2026-11-22" are local time;
//   - Unix seconds with an optional fraction: "1763784000", "1763784000.123456789".
// All results are microseconds since the Unix epoch (the resolution of the event log's clock).
import { invalid } from '../errors.js';

const UNIT_US: Record<string, number> = { ns: 0.001, us: 1, µs: 1, μs: 1, ms: 1000, s: 1e6, m: 60e6, h: 3600e6 };
const DURATION = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))*$/;
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?([Zz]|[+-]\d{2}:\d{2})?$/;
const UNIX = /^(\d+)(?:\.(\d{1,9}))?$/;

/** A Go-style duration ("1h30m", "10s") in microseconds, or undefined if `value` is not one. */
export function parseDurationUs(value: string): number | undefined {
  if (!DURATION.test(value)) return undefined;
  let us = 0;
  for (const m of value.matchAll(DURATION_PART)) us += Number(m[1]) * UNIT_US[m[2]!]!;
  return Math.round(us);
}

/**
 * Parse a `since`/`until` value into microseconds since the epoch. `nowUs` anchors relative
 * durations. Throws INVALID_ARGUMENT naming `field` for anything else.
 */
export function parseTimestamp(value: string, nowUs: number, field = 'since'): number {
  const v = value.trim();
  const bad = (why: string): never => {
    throw invalid(`invalid value for ${field}: ${JSON.stringify(value)} (${why})`, field);
  };
  if (v === '') bad('empty');
  if (v !== '0') {
    const d = parseDurationUs(v);
    if (d !== undefined) return nowUs - d;
  }
  const unix = UNIX.exec(v);
  if (unix) return Number(unix[1]) * 1e6 + Math.floor(Number((unix[2] ?? '').padEnd(9, '0')) / 1000);
  const dt = DATE_TIME.exec(v);
  if (dt) {
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = dt;
    const nums = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
    const [Y, M, D, H, I, S] = nums;
    if (M < 1 || M > 12 || D < 1 || D > 31 || H > 23 || I > 59 || S > 60) bad('out of range');
    const fracUs = Math.floor(Number(frac.padEnd(9, '0')) / 1000);
    let ms: number;
    if (zone === undefined) {
      ms = new Date(Y, M - 1, D, H, I, S).getTime();
    } else {
      ms = Date.UTC(Y, M - 1, D, H, I, S);
      if (zone !== 'Z' && zone !== 'z') {
        const sign = zone.startsWith('-') ? -1 : 1;
        ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
      }
    }
    // Reject dates that do not exist ("2026-02-31").
    const check = zone === undefined ? new Date(Y, M - 1, D) : new Date(Date.UTC(Y, M - 1, D));
    const day = zone === undefined ? check.getDate() : check.getUTCDate();
    if (day !== D) bad('no such date');
    return ms * 1000 + fracUs;
  }
  return bad('use an RFC 3339 date-time, Unix seconds, or a duration such as 10m');
}

