// cunik volume create: make a named volume (a random 64-hex name without one), print its name.
import { Option, type Command } from 'commander';
import type { CreateVolumeRequest } from '../../api/volumes.js';
import { VOLUME_NAME } from '../../volumes/types.js';
import { parseLabel, parseSizeBytes } from '../parse.js';
import { action, clientFor } from '../util.js';

export interface VolumeCreateFlags {
  driver: 'block' | 'share';
  size?: number;
  label: Record<string, string>;
}

export function volumeCreateRequest(name: string | undefined, flags: VolumeCreateFlags): CreateVolumeRequest {
  if (flags.size !== undefined && flags.driver !== 'block') throw new Error('--size is for block volumes (--driver block)');
  if (name !== undefined && !VOLUME_NAME.test(name)) throw new Error(`invalid volume name "${name}": use at least two of [a-zA-Z0-9_.-], starting with a letter or digit`);
  return {
    driver: flags.driver,
    ...(name !== undefined && { name }),
    ...(flags.size !== undefined && { sizeBytes: flags.size }),
    ...(Object.keys(flags.label).length > 0 && { labels: flags.label }),
  };
}

export function volumeCreateCommand(group: Command): void {
  group
    .command('create')
    .description('Create a volume: a shared host folder (share) or an ext4 disk file (block)')
    .addOption(new Option('-d, --driver <driver>', 'volume kind').choices(['share', 'block']).default('share'))
    .option('--size <size>', 'block volumes: size (e.g. 256m, 1g; default 64m)', parseSizeBytes)
    .option('--label <KEY=VALUE>', 'set a label (repeatable)', parseLabel, {} as Record<string, string>)
    .argument('[name]', 'volume name (default: a random id)')
    .action(
      action(async (name: string | undefined, flags: VolumeCreateFlags, cmd: Command) => {
        const req = volumeCreateRequest(name, flags);
        const client = await clientFor(cmd);
        const v = await client.createVolume(req);
        client.close();
        process.stdout.write(`${v.name}\n`);
      }),
    );
}
