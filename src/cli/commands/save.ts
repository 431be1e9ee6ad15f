// cunik save: write images as an OCI image layout tarball.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { action, clientFor } from '../util.js';

export const saveAction = action(async (refs: string[], flags: { output?: string }, cmd: Command) => {
  if (!flags.output && process.stdout.isTTY) throw new Error('refusing to write an archive to a terminal; use -o FILE or redirect');
  const client = await clientFor(cmd);
  const res = await client.exportImages(refs);
  // The daemon ends an archive it could not finish (a corrupt blob) early and names why in a trailer.
  const finished = (): void => {
    const why = res.trailers['cunik-error'];
    if (why !== undefined) throw new Error(why);
    if (!res.complete) throw new Error('the daemon closed the connection before the archive was complete');
  };
  if (flags.output) {
    // Write beside the target and rename, so a failed save never leaves a truncated archive.
    const tmp = `${flags.output}.partial`;
    try {
      await pipeline(res, createWriteStream(tmp));
      finished();
      await rename(tmp, flags.output);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  } else {
    await pipeline(res, process.stdout);
    finished();
  }
  client.close();
});

export function saveFlags(cmd: Command): Command {
  return cmd.option('-o, --output <file>', 'write to a file instead of stdout').argument('<images...>', 'references');
}

export function register(program: Command): void {
  saveFlags(program.command('save').description('Save images to an OCI archive (tar)')).action(saveAction);
}
