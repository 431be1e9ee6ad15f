// cunik wait: block until instances stop, print their exit codes.
import type { Command } from 'commander';
import { action, clientFor, errorMessage, EXIT_CLI_ERROR } from '../util.js';

export function register(program: Command): void {
  program
    .command('wait')
    .description('Block until one or more instances stop, then print their exit codes')
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], _flags: object, cmd: Command) => {
        const client = await clientFor(cmd);
        let failed = false;
        await Promise.all(
          targets.map(async (t) => {
            try {
              const w = await client.waitInstance(t);
              process.stdout.write(`${await w.exitCode}\n`);
            } catch (err) {
              failed = true;
              process.stderr.write(`cunik: ${errorMessage(err)}\n`);
            }
          }),
        );
        client.close();
        if (failed) process.exitCode = EXIT_CLI_ERROR;
      }),
    );
}
