// cunik volume prune: remove every volume no instance uses, after Docker's confirmation prompt.
import type { Command } from 'commander';
import { pruneCommand, reclaimed, volumesReport, WARN_VOLUMES } from '../prune.js';

export function volumePruneCommand(group: Command): void {
  pruneCommand(group, 'Remove all volumes not used by any instance', WARN_VOLUMES, async (client) => {
    const r = await client.pruneVolumes();
    return volumesReport(r) + reclaimed(r.spaceReclaimed);
  });
}
