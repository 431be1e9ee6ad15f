// cunik rename: give an instance a new name (docker rename).
import type { Command } from 'commander';
import { action, clientFor } from '../util.js';

export function register(program: Command): void {
  program
    .command('rename')
    .description('Rename an instance')
    .argument('<instance>', 'name or id')
    .argument('<name>', 'the new name')
    .action(
      action(async (target: string, name: string, _flags: object, cmd: Command) => {
        const client = await clientFor(cmd);
        await client.renameInstance(target, name);
        client.close();
      }),
    );
}
