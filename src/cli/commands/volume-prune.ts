// cunik volume prune: remove the anonymous volumes no instance uses (-a: named ones too, as
// Docker since 23.0), after Docker's confirmation prompt.
import type { Command } from 'commander';
import { addFilterTerm, type Filters } from '../../util/filters.js';
import { pruneCommand, reclaimed, volumesReport, warnVolumes } from '../prune.js';

export function volumePruneCommand(group: Command): void {
  pruneCommand(
    group,
    'Remove anonymous volumes not used by any instance (-a: named ones too)',
    warnVolumes,
    async (client, flags) => {
      const r = await client.pruneVolumes(flags.all ?? false, flags.filter);
      return volumesReport(r) + reclaimed(r.spaceReclaimed);
    },
    'remove all unused volumes, not just anonymous ones',
  ).option('--filter <KEY=VALUE>', 'label=KEY[=VALUE], label!=KEY[=VALUE] (repeatable)', addFilterTerm, {} as Filters);
}
