// cunik volume ls: list volumes (-q: names only; --filter name=, label=, driver=, dangling=).
import type { Command } from 'commander';
import { json, table } from '../format/table.js';
import { addFilterTerm, type Filters } from '../../util/filters.js';
import { action, clientFor } from '../util.js';

export function volumeLsCommand(group: Command): void {
  group
    .command('ls')
    .alias('list')
    .description('List volumes')
    .option('-q, --quiet', 'only show volume names')
    .option('-f, --filter <KEY=VALUE>', 'name=TEXT, label=KEY[=VALUE], driver=share|block, dangling=true|false (repeatable)', addFilterTerm, {} as Filters)
    .option('--format <format>', "output format: table, json (the native records), or a Go template: '{{.Name}}', 'table {{.Name}}\\t{{.Driver}}'", 'table')
    .action(
      action(async (flags: { quiet?: boolean; filter: Filters; format: string }, cmd: Command) => {
        const template = flags.format !== 'table' && flags.format !== 'json' ? await import('../format/output.js') : undefined;
        const client = await clientFor(cmd);
        const list = await client.listVolumes(flags.filter);
        client.close();
        if (flags.quiet) process.stdout.write(list.map((v) => `${v.name}\n`).join(''));
        else if (flags.format === 'json') process.stdout.write(json(list));
        else if (template) {
          const { volumeRow, VOLUME_HEADERS } = await import('../format/views.js');
          process.stdout.write(template.renderList(flags.format, list.map(volumeRow), VOLUME_HEADERS));
        }
        else process.stdout.write(table(['DRIVER', 'VOLUME NAME'], list.map((v) => [v.driver, v.name])));
      }),
    );
}
