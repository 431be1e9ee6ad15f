// cunik ps: list instances.
import { Option, type Command } from 'commander';
import { psPorts } from '../format/ports.js';
import { ago, json, shortId, table } from '../format/table.js';
import { action, clientFor } from '../util.js';

export function register(program: Command): void {
  program
    .command('ps')
    .description('List instances')
    .option('-a, --all', 'show all instances (default shows just running)')
    .option('-q, --quiet', 'only display instance ids')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(
      action(async (flags: { all?: boolean; quiet?: boolean; format: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        const list = await client.listInstances(flags.all);
        client.close();
        if (flags.quiet) process.stdout.write(list.map((i) => `${shortId(i.id)}\n`).join(''));
        else if (flags.format === 'json') process.stdout.write(json(list));
        else
          process.stdout.write(
            table(
              ['INSTANCE ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
              list.map((i) => [shortId(i.id), i.image, JSON.stringify(i.args.join(' ')), ago(i.created), i.status, psPorts(i.ports ?? []), i.name]),
            ),
          );
      }),
    );
}
