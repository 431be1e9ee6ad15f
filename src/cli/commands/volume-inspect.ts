// cunik volume inspect: volumes as JSON (each failure on its own line, exit 125 if any).
import type { Command } from 'commander';
import { action, clientFor, inspectEach } from '../util.js';

export function volumeInspectCommand(group: Command): void {
  group
    .command('inspect')
    .description('Display detailed information on volumes')
    .argument('<names...>')
    .action(
      action(async (names: string[], _flags: object, cmd: Command) => {
        const client = await clientFor(cmd);
        await inspectEach(names, (n) => client.inspectVolume(n));
        client.close();
      }),
    );
}
