// cunik tag: add a reference to an image.
import type { Command } from 'commander';
import { action, clientFor } from '../util.js';

export const tagAction = action(async (source: string, target: string, _flags: object, cmd: Command) => {
  const client = await clientFor(cmd);
  await client.tagImage(source, target);
  client.close();
});

export function register(program: Command): void {
  program.command('tag').description('Create a tag TARGET that refers to SOURCE').argument('<source>').argument('<target>').action(tagAction);
}
