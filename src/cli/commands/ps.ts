// cunik ps: list instances.
import type { Command } from 'commander';
import type { InstanceSummary } from '../../api/schemas.js';
import { addFilterTerm, type Filters } from '../../util/filters.js';
import { psPorts } from '../format/ports.js';
import { ago, json, shortId, table } from '../format/table.js';
import { action, clientFor } from '../util.js';

interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  format: string;
  filter: Filters;
  last?: number;
  latest?: boolean;
  trunc: boolean;
  size?: boolean;
}

function parseLast(value: string): number {
  if (!/^-?\d+$/.test(value)) throw new Error(`invalid -n value: ${value} (a whole number)`);
  return Number(value);
}

export function register(program: Command): void {
  program
    .command('ps')
    .description('List instances')
    .option('-a, --all', 'show all instances (default shows just running)')
    .option('-q, --quiet', 'only display instance ids')
    .option('-f, --filter <KEY=VALUE>', 'id=, name=, label=KEY[=VALUE], status=, ancestor=IMAGE, before=, since=, exited=CODE, network=, volume= (repeatable)', addFilterTerm, {} as Filters)
    .option('-n, --last <n>', 'show the n last created instances (all states)', parseLast)
    .option('-l, --latest', 'show the latest created instance (all states)')
    .option('--no-trunc', 'do not truncate output')
    .option('-s, --size', "display sizes: the instance's own files, and with its image (virtual)")
    .option('--format <format>', "output format: table, json (the native summaries), or a Go template: '{{.Names}} {{.Status}}', 'table {{.ID}}\\t{{.Names}}', '{{json .}}'", 'table')
    .action(
      action(async (flags: PsFlags, cmd: Command) => {
        const template = flags.format !== 'table' && flags.format !== 'json' ? await import('../format/output.js') : undefined;
        const client = await clientFor(cmd);
        // Docker: -n and -l look at every instance, newest first (the list's order).
        const last = flags.latest ? 1 : flags.last !== undefined && flags.last >= 0 ? flags.last : undefined;
        // Docker computes sizes for -s, or for a template that shows .Size.
        const size = flags.size === true || (template?.usesField(flags.format, 'Size') ?? false);
        let list = await client.listInstances(flags.all || last !== undefined, flags.filter, size);
        if (last !== undefined) list = list.slice(0, last);
        const id = (i: InstanceSummary): string => (flags.trunc ? shortId(i.id) : i.id);
        const sizeOf = (i: InstanceSummary): { rw: number; rootFs: number } => ({ rw: i.sizeRw ?? 0, rootFs: i.sizeRootFs ?? 0 });
        if (flags.quiet) process.stdout.write(list.map((i) => `${id(i)}\n`).join(''));
        else if (flags.format === 'json') process.stdout.write(json(list));
        else if (template) {
          const { psRow, PS_HEADERS } = await import('../format/views.js');
          // Mounts and networks are in each instance's detail, fetched only for a template that shows them.
          const details = /\.(Mounts|Networks|LocalVolumes)\b/.test(flags.format) ? await Promise.all(list.map((i) => client.inspectInstance(i.id))) : [];
          process.stdout.write(template.renderList(flags.format, list.map((i, n) => psRow(i, flags.trunc, { ...(details[n] && { detail: details[n] }), ...(size && { size: sizeOf(i) }) })), PS_HEADERS));
        } else {
          const headers = ['INSTANCE ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'];
          const row = (i: InstanceSummary): string[] => [id(i), i.image, JSON.stringify(i.args.join(' ')), ago(i.created), i.status, psPorts(i.ports ?? []), i.name];
          if (size) {
            const { psSize } = await import('../format/views.js');
            process.stdout.write(table([...headers, 'SIZE'], list.map((i) => [...row(i), psSize(sizeOf(i))])));
          } else process.stdout.write(table(headers, list.map(row)));
        }
        client.close();
      }),
    );
}
