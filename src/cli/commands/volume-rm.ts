// cunik volume rm: remove volumes; refused while any instance (any state) uses one.
import type { Command } from 'commander';
import { action, clientFor, forEachTarget } from '../util.js';

export function volumeRmCommand(group: Command): void {
  group
    .command('rm')
    .alias('remove')
    .description('Remove one or more volumes (refused while an instance uses them)')
    .option('-f, --force', 'no error for volumes that do not exist')
    .argument('<names...>')
    .action(
      action(async (names: string[], flags: { force?: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        await forEachTarget(names, (n) => client.removeVolume(n, flags.force));
        client.close();
      }),
    );
}
