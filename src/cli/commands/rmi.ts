// cunik rmi: untag and remove images.
import type { Command } from 'commander';
import { action, clientFor, errorMessage, EXIT_CLI_ERROR } from '../util.js';

export const rmiAction = action(async (targets: string[], flags: { force?: boolean }, cmd: Command) => {
  const client = await clientFor(cmd);
  let failed = false;
  const results = await Promise.allSettled(targets.map((t) => client.removeImage(t, flags.force)));
  for (const r of results) {
    if (r.status === 'rejected') {
      failed = true;
      process.stderr.write(`cunik: ${errorMessage(r.reason)}\n`);
      continue;
    }
    for (const u of r.value.untagged) process.stdout.write(`Untagged: ${u}\n`);
    for (const d of r.value.deleted) process.stdout.write(`Deleted: ${d}\n`);
  }
  client.close();
  if (failed) process.exitCode = EXIT_CLI_ERROR;
});

export function rmiFlags(cmd: Command): Command {
  return cmd.option('-f, --force', 'remove even if instances use it, or untag every reference').argument('<images...>', 'references or ids');
}

export function register(program: Command): void {
  rmiFlags(program.command('rmi').description('Remove one or more images')).action(rmiAction);
}
