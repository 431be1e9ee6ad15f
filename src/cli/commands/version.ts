// cunik version: client and daemon versions.
import type { Command } from 'commander';
import { VERSION } from '../../config/defaults.js';
import { json } from '../format/table.js';
import { action, clientFor } from '../util.js';

export function register(program: Command): void {
  program
    .command('version')
    .description('Show the Cunik version information')
    .option('--format <format>', "output format: text, json (the native answers), or a Go template on Docker's fields: '{{.Server.Version}}', '{{.Client.Version}}'", 'text')
    .action(
      action(async (flags: { format: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        const server = await client.version();
        client.close();
        const local = { version: VERSION, node: process.version };
        if (flags.format === 'json') return void process.stdout.write(json({ client: local, server }));
        if (flags.format !== 'text') {
          const [{ renderEach }, view] = await Promise.all([import('../format/output.js'), import('../../compat/docker/system-view.js')]);
          const clientView = { Version: local.version, ApiVersion: view.DOCKER_API_VERSION, GoVersion: `node ${local.node}`, Os: process.platform, Arch: process.arch === 'x64' ? 'amd64' : process.arch };
          return void process.stdout.write(renderEach(flags.format, [{ Client: clientView, Server: view.versionView(server, view.hostFacts()) }]));
        }
        process.stdout.write(
          `Client:\n Version: ${local.version}\n Node: ${local.node}\n\nServer:\n Version: ${server.version}\n API version: ${server.apiVersion}\n Node: ${server.node}\n OS/Arch: ${server.os}/${server.arch}\n`,
        );
      }),
    );
}
