// cunik inspect: detailed JSON for instances or images (instances first, as docker does for containers).
import type { Command } from 'commander';
import type { ImageDetail, InstanceDetail } from '../../api/schemas.js';
import { ApiError, type CunikClient } from '../../client/index.js';
import { json } from '../format/table.js';
import { action, clientFor, errorMessage, EXIT_CLI_ERROR } from '../util.js';

/** An instance's detail with the sizes ps -s gives it (docker inspect -s: SizeRw, SizeRootFs). */
async function withSizes(client: CunikClient, d: InstanceDetail): Promise<InstanceDetail & { sizeRw: number; sizeRootFs: number }> {
  const [s] = await client.listInstances(true, { id: [d.id] }, true);
  return { ...d, sizeRw: s?.sizeRw ?? 0, sizeRootFs: s?.sizeRootFs ?? 0 };
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('Return low-level information on instances or images')
    .option('--type <type>', 'only look for this type: instance or image')
    .option('-s, --size', "add an instance's sizes on disk (sizeRw: its own files; sizeRootFs: with its image's), as ps -s measures them")
    .option('-f, --format <template>', "a Go template run on each object (Docker's fields and the native ones): '{{.State.ExitCode}}', '{{json .Config}}', '{{.exitCode}}'")
    .argument('<names...>', 'instance or image names or ids')
    .action(
      action(async (targets: string[], flags: { type?: string; format?: string; size?: boolean }, cmd: Command) => {
        if (flags.type && flags.type !== 'instance' && flags.type !== 'image') throw new Error(`invalid --type: ${flags.type} (instance or image)`);
        const output = flags.format !== undefined ? await import('../format/output.js') : undefined;
        const client = await clientFor(cmd);
        const found: unknown[] = [];
        const kinds: ('instance' | 'image')[] = [];
        let failed = false;
        for (const t of targets) {
          try {
            if (flags.type === 'image') {
              found.push(await client.inspectImage(t));
              kinds.push('image');
            } else if (flags.type === 'instance') {
              const detail = await client.inspectInstance(t);
              found.push(flags.size ? await withSizes(client, detail) : detail);
              kinds.push('instance');
            } else {
              try {
                found.push(await client.inspectInstance(t));
                kinds.push('instance');
                if (flags.size) found[found.length - 1] = await withSizes(client, found.at(-1) as InstanceDetail);
              } catch (err) {
                if (!(err instanceof ApiError) || err.status !== 404) throw err;
                found.push(await client.inspectImage(t).catch((e: unknown) => {
                  throw e instanceof ApiError && e.status === 404 ? new Error(`no such object: ${t}`) : e;
                }));
                kinds.push('image');
              }
            }
          } catch (err) {
            failed = true;
            process.stderr.write(`cunik: ${errorMessage(err)}\n`);
          }
        }
        client.close();
        if (output) {
          // Docker's shape (State.ExitCode, Config.Labels ...) with the native fields beside it.
          const { containerInspect, imageInspect } = await import('../../compat/docker/view.js');
          const { withMaps } = await import('../format/views.js');
          const docker = (o: unknown, n: number): object => {
            if (kinds[n] === 'image') return imageInspect(o as ImageDetail);
            const sized = o as { sizeRw?: number; sizeRootFs?: number };
            return { ...containerInspect(o as InstanceDetail), ...(sized.sizeRw !== undefined && { SizeRw: sized.sizeRw, SizeRootFs: sized.sizeRootFs }) };
          };
          const objects = found.map((o, n) => withMaps({ ...docker(o, n), ...(o as object) }));
          process.stdout.write(output.renderEach(flags.format!, objects));
        } else process.stdout.write(json(found));
        if (failed) process.exitCode = EXIT_CLI_ERROR;
      }),
    );
}
