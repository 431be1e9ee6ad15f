// cunik restart: stop (gracefully, bounded by -t) then start again.
import type { Command } from 'commander';
import { parseSeconds } from '../parse.js';
import { action, clientFor, forEachTarget } from '../util.js';

export function register(program: Command): void {
  program
    .command('restart')
    .description('Restart one or more instances')
    .option('-t, --time <seconds>', "seconds to wait for the guest before ending the VM (default: the instance's stop timeout, 10 unless run --stop-timeout)", parseSeconds)
    .option('-s, --signal <signal>', "this stop's signal instead of the instance's: SIGTERM, SIGINT, SIGPWR (the guest's power button) or SIGKILL (the VM ended at once)")
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], flags: { time?: number; signal?: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        await forEachTarget(targets, (t) => client.restartInstance(t, flags.time, flags.signal));
        client.close();
      }),
    );
}
