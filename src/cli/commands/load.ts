// cunik load: read images from an OCI image layout tarball.
import { createReadStream } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { fsReason } from '../../util/fs-reason.js';
import { action, clientFor } from '../util.js';

export const loadAction = action(async (flags: { input?: string }, cmd: Command) => {
  if (flags.input) {
    const why = await access(flags.input, constants.R_OK).then(async () => ((await stat(flags.input!)).isDirectory() ? 'it is a directory' : undefined), fsReason);
    if (why !== undefined) throw new Error(`cannot read ${flags.input}: ${why}`);
  } else if (process.stdin.isTTY) throw new Error('no archive given: use -i FILE or pipe one on stdin');
  const client = await clientFor(cmd);
  const { loaded } = await client.loadImages(flags.input ? createReadStream(flags.input) : process.stdin);
  for (const image of loaded) {
    for (const tag of image.repoTags) process.stdout.write(`Loaded image: ${tag}\n`);
    if (image.repoTags.length === 0) process.stdout.write(`Loaded image ID: ${image.id}\n`);
  }
  client.close();
});

export function loadFlags(cmd: Command): Command {
  return cmd.option('-i, --input <file>', 'read from a file instead of stdin');
}

export function register(program: Command): void {
  loadFlags(program.command('load').description('Load images from an OCI archive (tar)')).action(loadAction);
}
