// cunik container <verb>: the instance management group (docker container ...).
import type { Command } from 'commander';
import { instancesReport, pruneCommand, reclaimed, WARN_INSTANCES } from '../prune.js';

export function register(program: Command): void {
  const container = program.command('container').description('Manage instances');
  pruneCommand(container, 'Remove all stopped instances', WARN_INSTANCES, async (client) => {
    const r = await client.pruneInstances();
    return instancesReport(r) + reclaimed(r.spaceReclaimed);
  });
}
