// The Engine API contract for events (GET /v1/events): newline-delimited JSON, Docker's shape
// in camelCase (type/action/actor flattened to type/action/id/attributes).
import { Type, type Static } from 'typebox';

export const EventType = Type.Union([Type.Literal('instance'), Type.Literal('image')]);

export const Event = Type.Object(
  {
    type: EventType,
    action: Type.String({ description: 'instance: create, start, die, stop, kill, pause, unpause, restart, rename, update, destroy; image: import, tag, untag, delete, load, pull, push' }),
    id: Type.String({ description: 'Instance id, or image id (sha256:<hex>)' }),
    attributes: Type.Record(Type.String(), Type.String(), {
      description: 'name (instance name, or image reference), image (an instance\'s image reference), exitCode (die)',
    }),
    time: Type.Integer({ description: 'Unix time, seconds' }),
    timeNano: Type.Integer({ description: 'Unix time, nanoseconds (microsecond resolution)' }),
  },
);
export type Event = Static<typeof Event>;

const Timestamp = (what: string) =>
  Type.String({
    minLength: 1,
    description: `${what}: an RFC 3339 date-time (local time without a zone), Unix seconds (with an optional fraction), or a duration before now such as 10s, 5m, 1h30m`,
  });

export const EventsQuery = Type.Object(
  {
    since: Type.Optional(Timestamp('Replay the kept events (the last 1,000) from this time')),
    until: Type.Optional(Timestamp('Stop at this time; a time in the past ends the stream after the replay')),
    filters: Type.Optional(
      Type.String({
        description: 'A JSON object of string arrays: {"type":["instance"|"image"],"event":["die"],"instance":["name or id"],"image":["ref or id"]}. Values of one key are alternatives; keys must all match.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;
