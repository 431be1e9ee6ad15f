// cunik events: stream instance and image events from the daemon (docker events).
import { Option, type Command } from 'commander';
import type { Event } from '../../api/events.js';
import { eventLine } from '../format/events.js';
import { ndjson } from '../format/lines.js';
import { action, clientFor, fail } from '../util.js';

/** --filter key=value, repeatable, into Docker's filters object ({"key": [values]}). */
export function collectFilter(value: string, previous: Record<string, string[]> = {}): Record<string, string[]> {
  const eq = value.indexOf('=');
  if (eq <= 0) fail(`bad format of filter (expected name=value): ${value}`);
  const key = value.slice(0, eq).trim().toLowerCase();
  return { ...previous, [key]: [...(previous[key] ?? []), value.slice(eq + 1)] };
}

export function register(program: Command): void {
  program
    .command('events')
    .description('Get real time events from the daemon')
    .option('--since <time>', 'show kept events since this time (RFC 3339, Unix seconds, or a duration such as 10m)')
    .option('--until <time>', 'stream events until this time')
    .option('-f, --filter <filter>', 'filter output: type=instance|image, event=<action>, instance=<name|id>, image=<ref|id> (repeatable)', collectFilter)
    .addOption(new Option('--format <format>', 'output format').choices(['plain', 'json']).default('plain'))
    .action(
      action(async (flags: { since?: string; until?: string; filter?: Record<string, string[]>; format: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        const res = await client.events({
          ...(flags.since !== undefined && { since: flags.since }),
          ...(flags.until !== undefined && { until: flags.until }),
          ...(flags.filter && { filters: flags.filter }),
        });
        for await (const e of ndjson<Event>(res)) {
          process.stdout.write(flags.format === 'json' ? `${JSON.stringify(e)}\n` : eventLine(e));
        }
        client.close();
      }),
    );
}
