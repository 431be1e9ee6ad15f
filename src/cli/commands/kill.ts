// cunik kill: send a signal (default SIGKILL) to the instance's VM.
import type { Command } from 'commander';
import { action, clientFor, forEachTarget } from '../util.js';

export function register(program: Command): void {
  program
    .command('kill')
    .description('Kill one or more running instances')
    .option('-s, --signal <signal>', 'signal to send', 'KILL')
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], flags: { signal: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        await forEachTarget(targets, (t) => client.killInstance(t, flags.signal));
        client.close();
      }),
    );
}
