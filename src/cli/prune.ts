// What `container prune`, `image prune`, `volume prune` and `system prune` share: the verb itself
// (Docker's confirmation prompt, skipped with -f), the warnings and the reports.
import type { Command } from 'commander';
import type { PruneImagesResponse, PruneInstancesResponse } from '../api/prune.js';
import type { PruneVolumesResponse } from '../api/volumes.js';
import type { CunikClient } from '../client/index.js';
import { confirm } from './confirm.js';
import { bytes } from './format/table.js';
import { action, clientFor } from './util.js';

/** Register `GROUP prune [-f]`: after the warning is confirmed, `run` prunes and returns the report. */
export function pruneCommand(group: Command, description: string, warning: string, run: (client: CunikClient) => Promise<string>): void {
  group
    .command('prune')
    .description(description)
    .option('-f, --force', 'do not prompt for confirmation')
    .action(
      action(async (flags: { force?: boolean }, cmd: Command) => {
        if (!flags.force && !(await confirm(warning))) return;
        const client = await clientFor(cmd);
        try {
          process.stdout.write(await run(client));
        } finally {
          client.close();
        }
      }),
    );
}

export const WARN_INSTANCES = 'WARNING! This will remove all stopped instances.';
export const WARN_IMAGES = 'WARNING! This will remove all dangling images.';
export const WARN_VOLUMES = 'WARNING! This will remove all volumes not used by at least one instance.';
export const WARN_SYSTEM = ['WARNING! This will remove:', '  - all stopped instances', '  - all dangling images', ''].join('\n');

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
