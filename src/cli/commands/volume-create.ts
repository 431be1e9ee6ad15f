// cunik volume create: make a named volume (a random 64-hex name without one), print its name.
import { Option, type Command } from 'commander';
import type { CreateVolumeRequest } from '../../api/volumes.js';
import { localDriverOpts } from '../../volumes/driver-opts.js';
import { VOLUME_NAME } from '../../volumes/types.js';
import { parseLabel, parseSizeBytes } from '../parse.js';
import { action, clientFor } from '../util.js';

export interface VolumeCreateFlags {
  driver: 'block' | 'share';
  size?: number;
  label: Record<string, string>;
  /** Docker's -o KEY=VALUE: size, or type=none,o=bind,device=PATH (volumes/driver-opts.ts). */
  opt: Record<string, string>;
}

export function volumeCreateRequest(name: string | undefined, flags: VolumeCreateFlags): CreateVolumeRequest {
  if (name !== undefined && !VOLUME_NAME.test(name)) throw new Error(`invalid volume name "${name}": use at least two of [a-zA-Z0-9_.-], starting with a letter or digit`);
  const opts = localDriverOpts(flags.opt, '--opt');
  if (opts.sizeBytes !== undefined && flags.size !== undefined) throw new Error('give the size once (--size or -o size=)');
  const size = flags.size ?? opts.sizeBytes;
  if (size !== undefined && flags.driver !== 'block') throw new Error('--size is for block volumes (--driver block)');
  if (opts.device !== undefined && flags.driver !== 'share') throw new Error('a volume of a host folder (-o device=) is a share volume (--driver share)');
  return {
    driver: flags.driver,
    ...(name !== undefined && { name }),
    ...(size !== undefined && { sizeBytes: size }),
    ...(Object.keys(flags.label).length > 0 && { labels: flags.label }),
    ...(opts.device !== undefined && { device: opts.device }),
  };
}

export function volumeCreateCommand(group: Command): void {
  group
    .command('create')
    .description('Create a volume: a shared host folder (share: its own, or one of yours with -o device=) or an ext4 disk file (block)')
    .addOption(new Option('-d, --driver <driver>', 'volume kind').choices(['share', 'block']).default('share'))
    .option('--size <size>', 'block volumes: size (e.g. 256m, 1g; default 64m)', parseSizeBytes)
    .option('--label <KEY=VALUE>', 'set a label (repeatable)', parseLabel, {} as Record<string, string>)
    .option('-o, --opt <KEY=VALUE>', "Docker's local driver options (repeatable): size=SIZE, or type=none o=bind device=PATH for a volume that is an existing host folder", parseLabel, {} as Record<string, string>)
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
