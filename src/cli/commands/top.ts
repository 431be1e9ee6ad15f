// cunik top: the processes of a running instance on the host (docker top). A VM has one, the VMM.
import type { Command } from 'commander';
import { table } from '../format/table.js';
import { action, clientFor } from '../util.js';

export function register(program: Command): void {
  program
    .command('top')
    .description('Display the host process of a running instance (its VMM)')
    .argument('<instance>', 'instance name or id')
    .action(
      action(async (ref: string, _flags: unknown, cmd: Command) => {
        const client = await clientFor(cmd);
        const d = await client.inspectInstance(ref);
        client.close();
        if (d.pid === null || (d.state !== 'running' && d.state !== 'paused')) throw new Error(`instance ${d.name} is not running`);
        process.stdout.write(table(['PID', 'CMD'], [[String(d.pid), d.vm.argv.join(' ')]]));
      }),
    );
}
