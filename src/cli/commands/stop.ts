// cunik stop: graceful shutdown, then SIGTERM, then SIGKILL after the timeout.
import type { Command } from 'commander';
import { parseSeconds } from '../parse.js';
import { action, clientFor, forEachTarget } from '../util.js';

export function register(program: Command): void {
  program
    .command('stop')
    .description('Stop one or more running instances')
    .option('-t, --time <seconds>', 'seconds to wait before killing the instance', parseSeconds)
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], flags: { time?: number }, cmd: Command) => {
        const client = await clientFor(cmd);
        await forEachTarget(targets, (t) => client.stopInstance(t, flags.time));
        client.close();
      }),
    );
}
