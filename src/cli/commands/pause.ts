// cunik pause: freeze the vCPUs of running instances (QMP stop).
import type { Command } from 'commander';
import { action, clientFor, forEachTarget } from '../util.js';

export function register(program: Command): void {
  program
    .command('pause')
    .description('Pause one or more instances')
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], _flags: object, cmd: Command) => {
        const client = await clientFor(cmd);
        await forEachTarget(targets, (t) => client.pauseInstance(t));
        client.close();
      }),
    );
}
