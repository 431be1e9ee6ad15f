// cunik volume inspect: volumes as JSON (each failure on its own line, exit 125 if any).
import type { Command } from 'commander';
import { action, clientFor, inspectEach } from '../util.js';

export function volumeInspectCommand(group: Command): void {
  group
    .command('inspect')
    .description('Display detailed information on volumes')
    .option('-f, --format <template>', "a Go template run on each volume: '{{.Mountpoint}}', '{{json .Labels}}'")
    .argument('<names...>')
    .action(
      action(async (names: string[], flags: { format?: string }, cmd: Command) => {
        const view = flags.format !== undefined ? (await import('../../compat/docker/view.js')).volumeView : undefined;
        const client = await clientFor(cmd);
        await inspectEach(names, (n) => client.inspectVolume(n), view && { template: flags.format!, view });
        client.close();
      }),
    );
}
