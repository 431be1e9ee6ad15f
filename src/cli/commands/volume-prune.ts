// cunik volume prune: remove every volume no instance uses, after Docker's confirmation prompt.
import type { Command } from 'commander';
import { confirm } from '../confirm.js';
import { reclaimed, volumesReport, WARN_VOLUMES } from '../prune.js';
import { action, clientFor } from '../util.js';

export function volumePruneCommand(group: Command): void {
  group
    .command('prune')
    .description('Remove all volumes not used by any instance')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(
      action(async (flags: { force?: boolean }, cmd: Command) => {
        if (!flags.force && !(await confirm(WARN_VOLUMES))) return;
        const client = await clientFor(cmd);
        const r = await client.pruneVolumes();
        client.close();
        process.stdout.write(volumesReport(r) + reclaimed(r.spaceReclaimed));
      }),
    );
}
