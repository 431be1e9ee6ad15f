// A subscriber's view of the event log: replay of kept events (with since and/or until), then
// live events, filtered; with an `until`, the stream ends at that time (at once if it is past).
// Docker's semantics (daemon/events.go SubscribeTopic): no since and no until means live only.
import { Readable } from 'node:stream';
import { matches, parseFilters, type EventFilter } from './filter.js';
import { eventUs, type CunikEvent, type EventLog } from './log.js';
import { parseTimestamp } from './time.js';

export interface EventQuery {
  since?: string | undefined;
  until?: string | undefined;
  /** JSON, Docker's form: {"type":["instance"],"event":["die"]} */
  filters?: string | undefined;
}

export interface EventStreamOptions {
  sinceUs?: number;
  untilUs?: number;
  filter: EventFilter;
}

/** Events a subscriber may fall behind by before it is cut off (the daemon never buffers without bound). */
export const MAX_BACKLOG = 10_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Validate and resolve a query (relative times against `nowUs`); throws INVALID_ARGUMENT. */
export function parseEventQuery(q: EventQuery, nowUs: number): EventStreamOptions {
  const opts: EventStreamOptions = { filter: parseFilters(q.filters) };
  if (q.since !== undefined) opts.sinceUs = parseTimestamp(q.since, nowUs, 'since');
  if (q.until !== undefined) opts.untilUs = parseTimestamp(q.until, nowUs, 'until');
  return opts;
}

/** An object-mode stream of CunikEvent. Destroying it unsubscribes. */
export function eventStream(log: EventLog, opts: EventStreamOptions): Readable {
  const { sinceUs, untilUs, filter } = opts;
  let unsubscribe: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const cleanup = (): void => {
    unsubscribe?.();
    unsubscribe = undefined;
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const out = new Readable({
    objectMode: true,
    read() {},
    destroy(err, callback) {
      cleanup();
      callback(err);
    },
  });
  const end = (): void => {
    cleanup();
    out.push(null);
  };
  const deliver = (e: CunikEvent): void => {
    if (!matches(filter, e)) return;
    if (out.readableLength >= MAX_BACKLOG) {
      out.destroy(new Error(`event subscriber fell ${MAX_BACKLOG} events behind`));
      return;
    }
    out.push(e);
  };

  const now = log.now();
  // Replay and subscription happen in one synchronous step: nothing published in between.
  if (sinceUs !== undefined || untilUs !== undefined) for (const e of log.events(sinceUs, untilUs)) deliver(e);
  if (untilUs !== undefined && untilUs <= now) {
    out.push(null);
    return out;
  }
  unsubscribe = log.subscribe((e) => {
    const us = eventUs(e);
    if (untilUs !== undefined && us > untilUs) return end();
    if (sinceUs !== undefined && us < sinceUs) return;
    deliver(e);
  });
  if (untilUs !== undefined) {
    const arm = (): void => {
      const left = Math.ceil((untilUs - log.now()) / 1000);
      if (left <= 0) return end();
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    arm();
  }
  return out;
}
