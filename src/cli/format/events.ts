// `docker events` plain lines: time (UTC, nine fraction digits), type, action, id, (attributes sorted by key).
import type { Event } from '../../api/events.js';

/** Unix nanoseconds (microsecond resolution) as 2026-11-22T04:00:00.123456000Z. */
export function formatTimeNano(timeNano: number): string {
  const us = Math.round(timeNano / 1000);
  const iso = new Date(Math.floor(us / 1000)).toISOString();
  const fraction = String(((us % 1e6) + 1e6) % 1e6).padStart(6, '0');
  return `${iso.slice(0, 19)}.${fraction}000Z`;
}

export function eventLine(e: Event): string {
  const attrs = Object.keys(e.attributes)
    .sort()
    .map((k) => `${k}=${e.attributes[k]}`)
    .join(', ');
  return `${formatTimeNano(e.timeNano)} ${e.type} ${e.action} ${e.id}${attrs ? ` (${attrs})` : ''}\n`;
}
