// cunik import: turn a kernel file into an image.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { shortId } from '../format/table.js';
import { parseCpus, parseMemoryMiB } from '../parse.js';
import { action, clientFor } from '../util.js';

interface ImportFlags {
  family: string;
  memory?: number;
  cpus?: number;
  arg: string[];
}

export const importAction = action(async (file: string, ref: string, flags: ImportFlags, cmd: Command) => {
  const info = await stat(file).catch(() => {
    throw new Error(`cannot read ${file}: no such file`);
  });
  if (!info.isFile()) throw new Error(`cannot import ${file}: not a regular file`);
  const client = await clientFor(cmd);
  const image = await client.importImage(createReadStream(file), {
    ref,
    family: flags.family,
    ...(flags.memory !== undefined && { memoryMiB: flags.memory }),
    ...(flags.cpus !== undefined && { cpus: flags.cpus }),
    ...(flags.arg.length > 0 && { args: flags.arg }),
  });
  client.close();
  process.stdout.write(`${image.repoTags[0] ?? ref} ${shortId(image.id)} (${image.family}, ${image.boot})\n`);
});

export function importFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--family <family>', 'unikernel family (e.g. generic)')
    .option('-m, --memory <size>', 'default guest memory (e.g. 64m)', parseMemoryMiB)
    .option('--cpus <n>', 'default number of virtual CPUs', parseCpus)
    .option('--arg <arg>', 'default argument (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .argument('<file>', 'kernel file')
    .argument('<name>', 'NAME[:TAG] for the image');
}

export function register(program: Command): void {
  importFlags(program.command('import').description('Import a unikernel kernel file as an image')).action(importAction);
}
