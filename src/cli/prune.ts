// What `container prune`, `image prune`, `volume prune` and `system prune` share: the verb itself
// (Docker's confirmation prompt, skipped with -f), the warnings and the reports.
import type { Command } from 'commander';
import type { PruneImagesResponse, PruneInstancesResponse } from '../api/prune.js';
import type { PruneVolumesResponse } from '../api/volumes.js';
import type { CunikClient } from '../client/index.js';
import { confirm } from './confirm.js';
import { bytes } from './format/table.js';
import { action, clientFor } from './util.js';

export interface PruneFlags {
  force?: boolean;
  all?: boolean;
  /** system prune --volumes. */
  volumes?: boolean;
  /** container and volume prune --filter. */
  filter?: Record<string, string[]>;
}

/**
 * Register `GROUP prune [-f]`: after the warning is confirmed, `run` prunes and returns the report.
 * `all`: the verb takes -a/--all (described so), and the warning may depend on it.
 */
export function pruneCommand(
  group: Command,
  description: string,
  warning: string | ((flags: PruneFlags) => string),
  run: (client: CunikClient, flags: PruneFlags) => Promise<string>,
  all?: string,
): Command {
  const cmd = group.command('prune').description(description);
  if (all !== undefined) cmd.option('-a, --all', all);
  cmd
    .option('-f, --force', 'do not prompt for confirmation')
    .action(
      action(async (flags: PruneFlags, cmd: Command) => {
        if (!flags.force && !(await confirm(typeof warning === 'string' ? warning : warning(flags)))) return;
        const client = await clientFor(cmd);
        try {
          process.stdout.write(await run(client, flags));
        } finally {
          client.close();
        }
      }),
    );
  return cmd;
}

export const WARN_INSTANCES = 'WARNING! This will remove all stopped instances.';
export const warnImages = (flags: PruneFlags): string =>
  flags.all ? 'WARNING! This will remove all images without at least one instance associated to them.' : 'WARNING! This will remove all dangling images.';
/** Docker's (23.0) wording: without --all only anonymous volumes go. */
export const warnVolumes = (flags: PruneFlags): string =>
  `WARNING! This will remove ${flags.all ? 'all local volumes' : 'anonymous local volumes'} not used by at least one instance.`;
export const warnSystem = (flags: PruneFlags): string =>
  [
    'WARNING! This will remove:',
    '  - all stopped instances',
    ...(flags.volumes ? ['  - all anonymous volumes not used by at least one instance'] : []),
    flags.all ? '  - all images without at least one instance associated to them' : '  - all dangling images',
    '',
  ].join('\n');

export function instancesReport(r: PruneInstancesResponse): string {
  return r.deleted.length ? `Deleted Instances:\n${r.deleted.map((id) => `${id}\n`).join('')}\n` : '';
}

export function imagesReport(r: PruneImagesResponse): string {
  if (r.untagged.length + r.deleted.length === 0) return '';
  return `Deleted Images:\n${r.untagged.map((t) => `untagged: ${t}\n`).join('')}${r.deleted.map((d) => `deleted: ${d}\n`).join('')}\n`;
}

export function volumesReport(r: PruneVolumesResponse): string {
  return r.deleted.length ? `Deleted Volumes:\n${r.deleted.map((n) => `${n}\n`).join('')}\n` : '';
}

export const reclaimed = (n: number): string => `Total reclaimed space: ${bytes(n)}\n`;
