// cunik create: create an instance without starting it.
import type { Command } from 'commander';
import { action, clientFor } from '../util.js';
import { createRequest, instanceFlags, type CreateFlags } from '../instance-flags.js';
import { ensureImage } from './pull.js';

export function register(program: Command): void {
  instanceFlags(program.command('create').description('Create an instance of an image without starting it')).action(
    action(async (image: string, args: string[], flags: CreateFlags, cmd: Command) => {
      const client = await clientFor(cmd);
      await ensureImage(client, image, flags.pull ?? 'missing');
      const { id } = await client.createInstance(createRequest(image, args, flags));
      process.stdout.write(`${id}\n`);
      client.close();
    }),
  );
}
