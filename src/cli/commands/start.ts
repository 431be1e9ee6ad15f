// cunik start: start one or more created or exited instances; -a attaches to one.
import type { Command } from 'commander';
import { action, clientFor, fail, forEachTarget } from '../util.js';
import { DEFAULT_DETACH_KEYS } from '../../api/detach-keys.js';
import { consoleSession } from './attach.js';
import { foregroundSignals } from './run.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('Start one or more instances')
    .option('-a, --attach', 'attach to the console and exit with the instance exit code')
    .option('--no-sig-proxy', 'with -a: do not pass the signals the CLI receives (TERM, HUP, QUIT, USR2) on to the instance')
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], flags: { attach?: boolean; sigProxy: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        if (flags.attach) {
          if (targets.length !== 1) fail('you cannot start and attach multiple instances at once');
          const release = foregroundSignals(client, targets[0]!, flags.sigProxy);
          try {
            // Through attach, not logs: an instance that ran before shows only this run's output.
            process.exitCode = await consoleSession(client, targets[0]!, { stdin: false, raw: false, detachKeys: DEFAULT_DETACH_KEYS, start: true });
          } finally {
            release();
          }
        } else {
          await forEachTarget(targets, (t) => client.startInstance(t));
        }
        client.close();
      }),
    );
}
