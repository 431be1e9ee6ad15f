// cunik logs: the instance's console output so far; -f follows it until the instance exits.
import type { Command } from 'commander';
import { action, clientFor } from '../util.js';

export function register(program: Command): void {
  program
    .command('logs')
    .description("Show an instance's console output")
    .option('-f, --follow', 'follow the output until the instance exits')
    .argument('<instance>', 'name or id')
    .action(
      action(async (target: string, flags: { follow?: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        const res = await client.logs(target, flags.follow);
        for await (const chunk of res) process.stdout.write(chunk as Buffer);
        client.close();
      }),
    );
}
