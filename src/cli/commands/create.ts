// cunik create: create an instance without starting it.
import type { Command } from 'commander';
import type { CreateInstanceRequest } from '../../api/schemas.js';
import type { PublishSpec, VolumeSpec } from '../parse.js';
import { action, clientFor } from '../util.js';
import { instanceFlags } from './run.js';
import { ensureImage, type PullPolicy } from './pull.js';

export interface CreateFlags {
  name?: string;
  memory?: number;
  cpus?: number;
  cpuOvercommit?: boolean;
  env: string[];
  restart?: { name: 'no' | 'on-failure' | 'always' | 'unless-stopped'; maximumRetryCount: number };
  network?: 'user' | 'none';
  publish: PublishSpec[];
  volume: VolumeSpec[];
  pull?: PullPolicy;
}

export function createRequest(image: string, args: string[], flags: CreateFlags): CreateInstanceRequest {
  return {
    image,
    ...(args.length > 0 && { args }),
    ...(flags.name !== undefined && { name: flags.name }),
    ...(flags.memory !== undefined && { memoryMiB: flags.memory }),
    ...(flags.cpus !== undefined && { cpus: flags.cpus }),
    ...(flags.cpuOvercommit && { cpuOvercommit: true }),
    ...(flags.env.length > 0 && { env: flags.env }),
    ...(flags.restart !== undefined && { restartPolicy: flags.restart }),
    ...(flags.network !== undefined && { network: flags.network }),
    ...(flags.publish.length > 0 && { ports: flags.publish }),
    ...(flags.volume.length > 0 && { mounts: flags.volume }),
  };
}

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
