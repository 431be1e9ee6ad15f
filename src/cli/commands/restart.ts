// cunik restart: stop (gracefully, bounded by -t) then start again.
import type { Command } from 'commander';
import { parseSeconds } from '../parse.js';
import { action, clientFor, forEachTarget } from '../util.js';

export function register(program: Command): void {
  program
    .command('restart')
    .description('Restart one or more instances')
    .option('-t, --time <seconds>', 'seconds to wait before killing the instance', parseSeconds)
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], flags: { time?: number }, cmd: Command) => {
        const client = await clientFor(cmd);
        await forEachTarget(targets, (t) => client.restartInstance(t, flags.time));
        client.close();
      }),
    );
}
