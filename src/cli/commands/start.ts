// cunik start: start one or more created or exited instances; -a attaches to one.
import type { Command } from 'commander';
import { action, clientFor, fail, forEachTarget } from '../util.js';
import { attachAndWait } from './run.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('Start one or more instances')
    .option('-a, --attach', 'attach to the console and exit with the instance exit code')
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], flags: { attach?: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        if (flags.attach) {
          if (targets.length !== 1) fail('you cannot start and attach multiple instances at once');
          process.exitCode = await attachAndWait(client, targets[0]!, true);
        } else {
          await forEachTarget(targets, (t) => client.startInstance(t));
        }
        client.close();
      }),
    );
}
