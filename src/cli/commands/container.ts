// cunik container <verb>: the instance management group (docker container ...).
import type { Command } from 'commander';
import { confirm } from '../confirm.js';
import { instancesReport, reclaimed, WARN_INSTANCES } from '../prune.js';
import { action, clientFor } from '../util.js';

export const containerPruneAction = action(async (flags: { force?: boolean }, cmd: Command) => {
  if (!flags.force && !(await confirm(WARN_INSTANCES))) return;
  const client = await clientFor(cmd);
  const r = await client.pruneInstances();
  client.close();
  process.stdout.write(instancesReport(r) + reclaimed(r.spaceReclaimed));
});

export function register(program: Command): void {
  const container = program.command('container').description('Manage instances');
  container.command('prune').description('Remove all stopped instances').option('-f, --force', 'do not prompt for confirmation').action(containerPruneAction);
}
