// cunik version: client and daemon versions.
import { Option, type Command } from 'commander';
import { VERSION } from '../../config/defaults.js';
import { json } from '../format/table.js';
import { action, clientFor } from '../util.js';

export function register(program: Command): void {
  program
    .command('version')
    .description('Show the Cunik version information')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(
      action(async (flags: { format: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        const server = await client.version();
        client.close();
        const local = { version: VERSION, node: process.version };
        if (flags.format === 'json') return void process.stdout.write(json({ client: local, server }));
        process.stdout.write(
          `Client:\n Version: ${local.version}\n Node: ${local.node}\n\nServer:\n Version: ${server.version}\n API version: ${server.apiVersion}\n Node: ${server.node}\n OS/Arch: ${server.os}/${server.arch}\n`,
        );
      }),
    );
}
