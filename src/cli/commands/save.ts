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
  if (flags.output) {
    // Write beside the target and rename, so a failed save never leaves a truncated archive.
    const tmp = `${flags.output}.partial`;
    try {
      await pipeline(res, createWriteStream(tmp));
      await rename(tmp, flags.output);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  } else {
    await pipeline(res, process.stdout);
  }
  client.close();
});

export function saveFlags(cmd: Command): Command {
  return cmd.option('-o, --output <file>', 'write to a file instead of stdout').argument('<images...>', 'references');
}

export function register(program: Command): void {
  saveFlags(program.command('save').description('Save images to an OCI archive (tar)')).action(saveAction);
}
