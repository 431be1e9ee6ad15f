// cunik system <verb>: disk usage and pruning of the whole daemon (docker system ...).
import { Option, type Command } from 'commander';
import { ago, bytes, json, table } from '../format/table.js';
import { imagesReport, instancesReport, pruneCommand, reclaimed, volumesReport, warnSystem } from '../prune.js';
import { action, clientFor } from '../util.js';
import { systemCheckCommand } from './system-check.js';
import * as events from './events.js';
import * as info from './info.js';

/** "11.63MB (70%)", Docker's RECLAIMABLE column. */
export function reclaimable(amount: number, size: number): string {
  return size > 0 ? `${bytes(amount)} (${Math.floor((100 * amount) / size)}%)` : bytes(amount);
}

export function register(program: Command): void {
  const system = program.command('system').description('Manage Cunik');
  // docker system info and docker system events are the top-level verbs under another name.
  info.register(system);
  events.register(system);

  system
    .command('df')
    .description('Show Cunik disk usage')
    .option('-v, --verbose', "show the build cache's entries")
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action(
      action(async (flags: { format: string; verbose?: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        const df = await client.diskUsage(flags.verbose === true);
        client.close();
        if (flags.format === 'json') return void process.stdout.write(json(df));
        const row = (type: string, g: typeof df.images): string[] => [type, String(g.total), String(g.active), bytes(g.size), reclaimable(g.reclaimable, g.size)];
        const rows = [row('Images', df.images), row('Instances', df.instances), row('Local Volumes', df.volumes)];
        if (df.buildCache) rows.push(row('Build Cache', df.buildCache));
        // Uploads and staging in progress: only shown while there are some.
        if (df.temporary.size > 0) rows.push(['Temporary Files', '', '', bytes(df.temporary.size), bytes(0)]);
        process.stdout.write(table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], rows));
        const entries = df.buildCache?.entries;
        if (entries) {
          process.stdout.write(`\nBuild cache usage: ${bytes(df.buildCache!.size)}\n\n`);
          process.stdout.write(table(['CACHE ID', 'CACHE TYPE', 'SIZE', 'RECLAIMABLE', 'CREATED', 'LAST USED', 'SHARED'], entries.map((e) => [e.id.slice(0, 12), e.type, bytes(e.size), bytes(e.reclaimable), ago(e.createdAt), ago(e.lastUsedAt), e.inUse ? 'true' : 'false'])));
        }
      }),
    );

  systemCheckCommand(system);

  pruneCommand(system, 'Remove stopped instances and dangling images (-a: all unused images; --volumes: unused anonymous volumes)', warnSystem, async (client, flags) => {
    // Instances first: images and volumes they used may become unused and go too.
    const instances = await client.pruneInstances();
    const volumes = flags.volumes === true ? await client.pruneVolumes(false) : undefined;
    const images = await client.pruneImages(flags.all === true);
    const freed = instances.spaceReclaimed + (volumes?.spaceReclaimed ?? 0) + images.spaceReclaimed;
    return instancesReport(instances) + (volumes ? volumesReport(volumes) : '') + imagesReport(images) + reclaimed(freed);
  }, 'remove all images no instance uses, not just dangling ones').option('--volumes', 'also remove anonymous volumes no instance uses');
}
