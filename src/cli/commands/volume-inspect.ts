// cunik volume inspect: volumes as JSON (each failure on its own line, exit 125 if any).
import type { Command } from 'commander';
import { json } from '../format/table.js';
import { action, clientFor, errorMessage, EXIT_CLI_ERROR } from '../util.js';

export function volumeInspectCommand(group: Command): void {
  group
    .command('inspect')
    .description('Display detailed information on volumes')
    .argument('<names...>')
    .action(
      action(async (names: string[], _flags: object, cmd: Command) => {
        const client = await clientFor(cmd);
        const results = await Promise.allSettled(names.map((n) => client.inspectVolume(n)));
        client.close();
        const found = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        for (const r of results) if (r.status === 'rejected') process.stderr.write(`cunik: ${errorMessage(r.reason)}\n`);
        process.stdout.write(json(found));
        if (found.length < names.length) process.exitCode = EXIT_CLI_ERROR;
      }),
    );
}
