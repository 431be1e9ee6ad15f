// cunik start: start one or more created or exited instances; -a attaches to one, -i also gives it stdin.
import type { Command } from 'commander';
import { DEFAULT_DETACH_KEYS } from '../../api/detach-keys.js';
import { action, clientFor, fail, forEachTarget } from '../util.js';
import { consoleSession } from './attach.js';
import { foregroundSignals } from './run.js';

export function register(program: Command): void {
  program
    .command('start')
    .description('Start one or more instances')
    .option('-a, --attach', 'attach to the console and exit with the instance exit code')
    .option('-i, --interactive', "attach standard input to the instance's serial console (implies -a)")
    .option('--detach-keys <keys>', 'with -i: key sequence that detaches, leaving the instance running', DEFAULT_DETACH_KEYS)
    .option('--no-sig-proxy', 'with -a: do not pass the signals the CLI receives (TERM, HUP, QUIT, USR2) on to the instance')
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], flags: { attach?: boolean; interactive?: boolean; detachKeys: string; sigProxy: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        if (flags.attach || flags.interactive) {
          if (targets.length !== 1) fail('you cannot start and attach multiple instances at once');
          const stdin = flags.interactive ?? false;
          // As run: Ctrl-C stops the instance (on a raw terminal, -i on a TTY, it is a key instead).
          const release = foregroundSignals(client, targets[0]!, flags.sigProxy);
          try {
            // Through attach, not logs: an instance that ran before shows only this run's output.
            process.exitCode = await consoleSession(client, targets[0]!, { stdin, raw: stdin, detachKeys: flags.detachKeys, start: true });
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
