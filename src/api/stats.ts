// The Engine API contract for instance stats (GET /v1/instances/{id}/stats).
import { Type, type Static } from 'typebox';
import { InstanceState } from './schemas.js';

export const InstanceStats = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: InstanceState,
    pid: Type.Union([Type.Integer(), Type.Null()], { description: 'The VMM process, while it runs' }),
    read: Type.String({ format: 'date-time', description: 'When the sample was taken' }),
    cpuPercent: Type.Number({ description: 'CPU used by the VMM process over the last interval, percent of one host CPU' }),
    cpuSeconds: Type.Number({ description: 'CPU time the VMM process has used since it started, seconds' }),
    memory: Type.Object({
      rss: Type.Integer({ description: 'Host memory: resident set of the VMM process (VmRSS), bytes' }),
      guest: Type.Integer({ description: 'Guest memory as configured, bytes' }),
    }),
    uptimeSeconds: Type.Integer({ description: 'Seconds since the instance started; 0 when not running' }),
  },
);
export type InstanceStats = Static<typeof InstanceStats>;

export const StatsQuery = Type.Object(
  { stream: Type.Optional(Type.Boolean({ description: 'Stream a report every second (default), or send one' })) },
  { additionalProperties: false },
);
export type StatsQuery = Static<typeof StatsQuery>;
