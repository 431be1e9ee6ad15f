// cunik import: turn a kernel file (or a disk image, or a kernel plus its disk) into an image.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { fsReason } from '../../util/fs-reason.js';
import { shortId } from '../format/table.js';
import { parseCpus, parseMemoryMiB } from '../parse.js';
import { action, clientFor } from '../util.js';

interface ImportFlags {
  family: string;
  memory?: number;
  cpus?: number;
  arg: string[];
  disk?: string;
}

async function regularFile(file: string): Promise<number> {
  const info = await stat(file).catch((err: unknown) => {
    throw new Error(`cannot read ${file}: ${fsReason(err)}`);
  });
  if (!info.isFile()) throw new Error(`cannot import ${file}: not a regular file`);
  return info.size;
}

/** The kernel, then the disk: one upload the daemon splits at the kernel's size. */
function concatenated(first: string, second: string): Readable {
  return Readable.from((async function* () {
    for (const f of [first, second]) yield* createReadStream(f);
  })());
}

export const importAction = action(async (file: string, ref: string, flags: ImportFlags, cmd: Command) => {
  const kernelSize = await regularFile(file);
  if (flags.disk !== undefined) await regularFile(flags.disk);
  const client = await clientFor(cmd);
  const body = flags.disk !== undefined ? concatenated(file, flags.disk) : createReadStream(file);
  const image = await client.importImage(body, {
    ref,
    family: flags.family,
    ...(flags.disk !== undefined && { kernelSize }),
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
    .option('--disk <file>', "the image's disk (osv, nanos): FILE is then the kernel that boots it directly (OSv's loader, nanos' kernel.img)")
    .argument('<file>', 'kernel file, or a disk image (raw with an MBR, or qcow2) for osv and nanos')
    .argument('<name>', 'NAME[:TAG] for the image');
}

export function register(program: Command): void {
  importFlags(program.command('import').description('Import a unikernel kernel file (or disk image) as an image')).action(importAction);
}
