// cunik events: stream instance and image events from the daemon (docker events).
import type { Command } from 'commander';
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

/**
 * docker events --format runs on Docker's events.Message: its JSON (what {{json .}} prints) with
 * the Go field names beside it (.Time .TimeNano .Status .ID .From .Scope), which JSON leaves out.
 */
async function templateView(): Promise<{ render(format: string, e: Event): string }> {
  const [{ renderEach }, { eventView }, { asMap }] = await Promise.all([import('../format/output.js'), import('../../compat/docker/view.js'), import('../format/template.js')]);
  const GO_NAMES: [string, string][] = [['Time', 'time'], ['TimeNano', 'timeNano'], ['Status', 'status'], ['ID', 'id'], ['From', 'from'], ['Scope', 'scope']];
  return {
    render(format, e) {
      const view = eventView(e);
      for (const [go, name] of GO_NAMES) if (name in view) Object.defineProperty(view, go, { value: view[name], enumerable: false });
      asMap((view['Actor'] as { Attributes: object }).Attributes);
      return renderEach(format, [view]);
    },
  };
}

export function register(program: Command): void {
  program
    .command('events')
    .description('Get real time events from the daemon')
    .option('--since <time>', 'show kept events since this time (RFC 3339, Unix seconds, or a duration such as 10m)')
    .option('--until <time>', 'stream events until this time')
    .option('-f, --filter <filter>', 'filter output: type=instance|image, event=<action>, instance=<name|id>, image=<ref|id> (repeatable)', collectFilter)
    .option('--format <format>', "output format: plain, json (the native events, one a line), or a Go template on Docker's fields: '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}', '{{json .}}'", 'plain')
    .action(
      action(async (flags: { since?: string; until?: string; filter?: Record<string, string[]>; format: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        const res = await client.events({
          ...(flags.since !== undefined && { since: flags.since }),
          ...(flags.until !== undefined && { until: flags.until }),
          ...(flags.filter && { filters: flags.filter }),
        });
        const template = flags.format !== 'plain' && flags.format !== 'json' ? await templateView() : undefined;
        for await (const e of ndjson<Event>(res)) {
          if (template) process.stdout.write(template.render(flags.format, e));
          else process.stdout.write(flags.format === 'json' ? `${JSON.stringify(e)}\n` : eventLine(e));
        }
        client.close();
      }),
    );
}
