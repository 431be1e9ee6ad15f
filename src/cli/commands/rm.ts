// cunik rm: remove instances; -f kills running ones first.
import type { Command } from 'commander';
import { action, clientFor, forEachTarget } from '../util.js';

export function register(program: Command): void {
  program
    .command('rm')
    .description('Remove one or more instances')
    .option('-f, --force', 'kill and remove running instances')
    .option('-v, --volumes', 'also remove the anonymous volumes made for them')
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], flags: { force?: boolean; volumes?: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        await forEachTarget(targets, (t) => client.removeInstance(t, flags.force, flags.volumes));
        client.close();
      }),
    );
}
