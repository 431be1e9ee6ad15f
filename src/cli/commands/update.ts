// cunik update: change instances' memory, vCPUs and restart policy (docker update). A running VM
// keeps its memory and vCPUs until its next start: the daemon's warning says so, on stderr.
import type { Command } from 'commander';
import type { UpdateInstanceRequest } from '../../api/schemas.js';
import { parseCpus, parseMemoryMiB, parseRestartPolicy } from '../parse.js';
import { action, clientFor, forEachTarget } from '../util.js';

interface UpdateFlags {
  memory?: number;
  cpus?: number;
  cpuOvercommit?: boolean;
  restart?: UpdateInstanceRequest['restartPolicy'];
}

/** The request the flags make; one line when they ask for nothing. */
export function updateRequest(flags: UpdateFlags): UpdateInstanceRequest {
  const req: UpdateInstanceRequest = {
    ...(flags.memory !== undefined && { memoryMiB: flags.memory }),
    ...(flags.cpus !== undefined && { cpus: flags.cpus }),
    ...(flags.cpuOvercommit === true && { cpuOvercommit: true }),
    ...(flags.restart !== undefined && { restartPolicy: flags.restart }),
  };
  if (Object.keys(req).length === 0) throw new Error('nothing to update: give --memory, --cpus or --restart');
  return req;
}

export function register(program: Command): void {
  program
    .command('update')
    .description("Update instances' memory, CPUs (a running instance's at its next start) and restart policy")
    .option('-m, --memory <size>', 'guest memory (e.g. 64m, 1g)', parseMemoryMiB)
    .option('--cpus <n>', "number of virtual CPUs (at most the host's CPUs)", parseCpus)
    .option('--cpu-overcommit', 'allow more virtual CPUs than the host has CPUs')
    .option('--restart <policy>', 'restart policy: no, on-failure[:N], always, unless-stopped', parseRestartPolicy)
    .argument('<instances...>', 'names or ids')
    .action(
      action(async (targets: string[], flags: UpdateFlags, cmd: Command) => {
        const req = updateRequest(flags);
        const client = await clientFor(cmd);
        await forEachTarget(targets, async (t) => {
          const { warnings } = await client.updateInstance(t, req);
          for (const w of warnings) process.stderr.write(`cunik: warning: ${w}\n`);
        });
        client.close();
      }),
    );
}
