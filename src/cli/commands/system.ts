// cunik system <verb>: disk usage and pruning of the whole daemon (docker system ...).
import { Option, type Command } from 'commander';
import { bytes, json, table } from '../format/table.js';
import { imagesReport, instancesReport, pruneCommand, reclaimed, WARN_SYSTEM } from '../prune.js';
import { action, clientFor } from '../util.js';
import { systemCheckCommand } from './system-check.js';

/** "11.63MB (70%)", Docker's RECLAIMABLE column. */
export function reclaimable(amount: number, size: number): string {
  return size > 0 ? `${bytes(amount)} (${Math.floor((100 * amount) / size)}%)` : bytes(amount);
}

export function register(program: Command): void {
  const system = program.command('system').description('Manage Cunik');

  system
    .command('df')
    .description('Show Cunik disk usage')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(
      action(async (flags: { format: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        const df = await client.diskUsage();
        client.close();
        if (flags.format === 'json') return void process.stdout.write(json(df));
        const row = (type: string, g: typeof df.images): string[] => [type, String(g.total), String(g.active), bytes(g.size), reclaimable(g.reclaimable, g.size)];
        const rows = [row('Images', df.images), row('Instances', df.instances), row('Local Volumes', df.volumes)];
        // Uploads and staging in progress: only shown while there are some.
        if (df.temporary.size > 0) rows.push(['Temporary Files', '', '', bytes(df.temporary.size), bytes(0)]);
        process.stdout.write(table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], rows));
      }),
    );

  systemCheckCommand(system);

  pruneCommand(system, 'Remove stopped instances and dangling images', WARN_SYSTEM, async (client) => {
    // Instances first: images they used may become dangling and go too.
    const instances = await client.pruneInstances();
    const images = await client.pruneImages();
    return instancesReport(instances) + imagesReport(images) + reclaimed(instances.spaceReclaimed + images.spaceReclaimed);
  });
}
