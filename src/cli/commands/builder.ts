// cunik builder prune: remove build cache entries (docker builder prune): without -a those no
// image links (their space is freed), with -a every one (the next build makes its steps again).
import type { Command } from 'commander';
import { addFilterTerm, type Filters } from '../../util/filters.js';
import { confirm } from '../confirm.js';
import { reclaimed } from '../prune.js';
import { action, clientFor } from '../util.js';

/** Docker's wording. */
export const warnBuildCache = (all: boolean): string => `WARNING! This will remove all ${all ? '' : 'dangling '}build cache.`;

export function register(program: Command): void {
  const builder = program.command('builder').description('Manage the build cache');
  builder
    .command('prune')
    .description('Remove build cache entries no image uses (-a: all of them)')
    .option('-a, --all', 'remove all build cache, also the entries images were built from')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <KEY=VALUE>', 'until=TIME|DURATION: only entries last used before it (repeatable)', addFilterTerm, {} as Filters)
    .action(
      action(async (flags: { all?: boolean; force?: boolean; filter: Filters }, cmd: Command) => {
        for (const key of Object.keys(flags.filter)) if (key !== 'until') throw new Error(`invalid filter "${key}" for builder prune (until)`);
        if (!flags.force && !(await confirm(warnBuildCache(flags.all === true)))) return;
        const client = await clientFor(cmd);
        try {
          const r = await client.pruneBuildCache(flags.all === true, flags.filter);
          const ids = r.deleted.length ? `Deleted build cache objects:\n${r.deleted.map((id) => `${id}\n`).join('')}\n` : '';
          process.stdout.write(ids + reclaimed(r.spaceReclaimed));
        } finally {
          client.close();
        }
      }),
    );
}
