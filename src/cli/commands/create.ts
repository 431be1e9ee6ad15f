// cunik create: create an instance without starting it.
import type { Command } from 'commander';
import { action, clientFor } from '../util.js';
import { createRequest, instanceFlags, type CreateFlags } from '../instance-flags.js';
import { ensureImage } from './pull.js';

export function register(program: Command): void {
  instanceFlags(program.command('create').description('Create an instance of an image without starting it'))
    // docker create -it, for a later start -ai: the console's input is always there to attach to.
    .option('-i, --interactive', "keep the serial console's input open (it always is: start -ai attaches it)")
    .option('-t, --tty', 'the console is a terminal (kept as the instance\'s; the Docker API serves its attach and logs raw)')
    .action(
      action(async (image: string, args: string[], flags: CreateFlags & { tty?: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        await ensureImage(client, image, flags.pull ?? 'missing');
        const { id } = await client.createInstance({ ...createRequest(image, args, flags), ...(flags.tty && { tty: true }) });
        process.stdout.write(`${id}\n`);
        client.close();
      }),
    );
}
