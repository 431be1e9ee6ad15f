// cunik ps: list instances.
import type { Command } from 'commander';
import type { InstanceSummary } from '../../api/schemas.js';
import { addFilterTerm, type NetworkFilters } from '../../network/bridge/filter.js';
import { psPorts } from '../format/ports.js';
import { ago, json, shortId, table } from '../format/table.js';
import { action, clientFor } from '../util.js';

interface PsFlags {
  all?: boolean;
  quiet?: boolean;
  format: string;
  filter: NetworkFilters;
  last?: number;
  latest?: boolean;
  trunc: boolean;
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
    .option('-f, --filter <KEY=VALUE>', 'id=, name=, label=KEY[=VALUE], status=, ancestor=IMAGE, before=, since=, exited=CODE, network=, volume= (repeatable)', addFilterTerm, {} as NetworkFilters)
    .option('-n, --last <n>', 'show the n last created instances (all states)', parseLast)
    .option('-l, --latest', 'show the latest created instance (all states)')
    .option('--no-trunc', 'do not truncate output')
    .option('--format <format>', 'output format: table or json', 'table')
    .action(
      action(async (flags: PsFlags, cmd: Command) => {
        if (flags.format !== 'table' && flags.format !== 'json') throw new Error(`invalid --format: ${flags.format} (table or json)`);
        const client = await clientFor(cmd);
        // Docker: -n and -l look at every instance, newest first (the list's order).
        const last = flags.latest ? 1 : flags.last !== undefined && flags.last >= 0 ? flags.last : undefined;
        let list = await client.listInstances(flags.all || last !== undefined, flags.filter);
        client.close();
        if (last !== undefined) list = list.slice(0, last);
        const id = (i: InstanceSummary): string => (flags.trunc ? shortId(i.id) : i.id);
        if (flags.quiet) process.stdout.write(list.map((i) => `${id(i)}\n`).join(''));
        else if (flags.format === 'json') process.stdout.write(json(list));
        else {
          process.stdout.write(
            table(
              ['INSTANCE ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
              list.map((i) => [id(i), i.image, JSON.stringify(i.args.join(' ')), ago(i.created), i.status, psPorts(i.ports ?? []), i.name]),
            ),
          );
        }
      }),
    );
}
