// cunik save: write images as an OCI image layout tarball.
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { fsReason } from '../../util/fs-reason.js';
import { action, clientFor } from '../util.js';

/** The file the archive goes to first (beside the target, renamed at the end), or why it cannot. */
async function openPartial(output: string): Promise<{ tmp: string; file: FileHandle }> {
  if ((await stat(output).catch(() => undefined))?.isDirectory()) throw new Error(`cannot write ${output}: it is a directory`);
  const tmp = `${output}.partial`;
  try {
    return { tmp, file: await open(tmp, 'w') };
  } catch (err) {
    throw new Error(`cannot write ${output}: ${fsReason(err)}`);
  }
}

export const saveAction = action(async (refs: string[], flags: { output?: string }, cmd: Command) => {
  if (!flags.output && process.stdout.isTTY) throw new Error('refusing to write an archive to a terminal; use -o FILE or redirect');
  const client = await clientFor(cmd);
  // Where it goes is checked before the daemon writes a byte of it.
  const target = flags.output !== undefined ? await openPartial(flags.output) : undefined;
  const res = await client.exportImages(refs).catch(async (err: unknown) => {
    await target?.file.close();
    if (target) await rm(target.tmp, { force: true });
    throw err;
  });
  // The daemon ends an archive it could not finish (a corrupt blob) early and names why in a trailer.
  const finished = (): void => {
    const why = res.trailers['cunik-error'];
    if (why !== undefined) throw new Error(why);
    if (!res.complete) throw new Error('the daemon closed the connection before the archive was complete');
  };
  if (target && flags.output) {
    // Write beside the target and rename, so a failed save never leaves a truncated archive.
    try {
      await pipeline(res, target.file.createWriteStream());
      finished();
      await rename(target.tmp, flags.output);
    } catch (err) {
      await rm(target.tmp, { force: true });
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
