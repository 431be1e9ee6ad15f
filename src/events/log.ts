// The daemon's event log: every instance and image change, in order, with the last `capacity`
// (1,000) kept in a ring buffer so `events --since` can replay them. Subscribers hear each event
// synchronously as it is published, so a replay taken together with a subscription (same tick)
// neither misses nor repeats an event.

export type EventType = 'instance' | 'image';

export interface CunikEvent {
  type: EventType;
  /** create, start, die, stop, kill, pause, unpause, restart, destroy; import, tag, untag, delete, load, pull, push */
  action: string;
  /** Instance id, or image id ("sha256:<hex>"). */
  id: string;
  /** name (instance name or image reference), image (an instance's image), exitCode (die), ... */
  attributes: Record<string, string>;
  /** Unix time, seconds (Docker's `time`). */
  time: number;
  /** Unix time, nanoseconds at microsecond resolution (Docker's `timeNano`). */
  timeNano: number;
}

export type EventInput = Pick<CunikEvent, 'type' | 'action' | 'id'> & { attributes?: Record<string, string | number | undefined> };
export type EventListener = (e: CunikEvent) => void;

/** Microseconds since the epoch from the wall clock (since/until are wall-clock times). */
export const wallClockUs = (): number => Date.now() * 1000;

export const DEFAULT_CAPACITY = 1000;

/** Microseconds since the epoch of an event. */
export const eventUs = (e: CunikEvent): number => Math.round(e.timeNano / 1000);

export class EventLog {
  private readonly ring: (CunikEvent | undefined)[];
  private next = 0;
  private count = 0;
  private lastUs = 0;
  private readonly listeners = new Set<EventListener>();

  constructor(
    readonly capacity = DEFAULT_CAPACITY,
    private readonly clockUs: () => number = wallClockUs,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.ring = new Array<CunikEvent | undefined>(capacity);
  }

  /** Record an event and tell every subscriber. Times strictly increase, so each event has its own. */
  publish(input: EventInput): CunikEvent {
    let us = Math.max(this.clockUs(), this.lastUs + 1);
    this.lastUs = us;
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.attributes ?? {})) if (v !== undefined) attributes[k] = String(v);
    const event: CunikEvent = { type: input.type, action: input.action, id: input.id, attributes, time: Math.floor(us / 1e6), timeNano: us * 1000 };
    this.ring[this.next] = event;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // One subscriber's failure must not stop the others or the publisher.
      }
    }
    return event;
  }

  /** Kept events, oldest first, with sinceUs <= time <= untilUs (both optional, inclusive). */
  events(sinceUs?: number, untilUs?: number): CunikEvent[] {
    const out: CunikEvent[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      const e = this.ring[(start + i) % this.capacity]!;
      const us = eventUs(e);
      if (sinceUs !== undefined && us < sinceUs) continue;
      if (untilUs !== undefined && us > untilUs) break;
      out.push(e);
    }
    return out;
  }

  /** Hear every event published from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  unsubscribe(listener: EventListener): void {
    this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  now(): number {
    return this.clockUs();
  }
}
