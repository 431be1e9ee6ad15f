// cunik unpause: let paused instances run again (QMP cont).
import type { Command } from 'commander';
import { action, clientFor, forEachTarget } from '../util.js';

export function register(program: Command): void {
  program
    .command('unpause')
    .description('Unpause one or more instances')
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], _flags: object, cmd: Command) => {
        const client = await clientFor(cmd);
        await forEachTarget(targets, (t) => client.unpauseInstance(t));
        client.close();
      }),
    );
}
