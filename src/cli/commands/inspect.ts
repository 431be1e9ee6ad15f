// cunik inspect: detailed JSON for instances or images (instances first, as docker does for containers).
import type { Command } from 'commander';
import { ApiError } from '../../client/index.js';
import { json } from '../format/table.js';
import { action, clientFor, errorMessage, EXIT_CLI_ERROR } from '../util.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description('Return low-level information on instances or images')
    .option('--type <type>', 'only look for this type: instance or image')
    .argument('<names...>', 'instance or image names or ids')
    .action(
      action(async (targets: string[], flags: { type?: string }, cmd: Command) => {
        if (flags.type && flags.type !== 'instance' && flags.type !== 'image') throw new Error(`invalid --type: ${flags.type} (instance or image)`);
        const client = await clientFor(cmd);
        const found: unknown[] = [];
        let failed = false;
        for (const t of targets) {
          try {
            if (flags.type === 'image') found.push(await client.inspectImage(t));
            else if (flags.type === 'instance') found.push(await client.inspectInstance(t));
            else {
              try {
                found.push(await client.inspectInstance(t));
              } catch (err) {
                if (!(err instanceof ApiError) || err.status !== 404) throw err;
                found.push(await client.inspectImage(t).catch((e: unknown) => {
                  throw e instanceof ApiError && e.status === 404 ? new Error(`no such object: ${t}`) : e;
                }));
              }
            }
          } catch (err) {
            failed = true;
            process.stderr.write(`cunik: ${errorMessage(err)}\n`);
          }
        }
        client.close();
        process.stdout.write(json(found));
        if (failed) process.exitCode = EXIT_CLI_ERROR;
      }),
    );
}
