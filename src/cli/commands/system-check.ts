// cunik system check [--repair]: what the daemon finds wrong in its own state (instance records
// set aside at start, image blobs whose content is not their digest, unreadable images, volumes
// without a usable record), one line each. Exit 1 while problems remain (as a checker's "found
// something"), 0 when all is well or repaired.
import { Option, type Command } from 'commander';
import type { CheckResponse } from '../../api/check.js';
import { json } from '../format/table.js';
import { action, clientFor } from '../util.js';

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

export function report(r: CheckResponse, repair: boolean): string {
  const lines = r.problems.map((p) => `${p.kind} ${p.kind === 'instance' ? p.subject.slice(0, 12) : p.subject}: ${p.problem}${p.repaired ? ' [repaired]' : ''}`);
  const c = r.checked;
  const what = `${plural(c.instances, 'instance record')}, ${plural(c.images, 'image')} (${plural(c.blobs, 'blob')} verified), ${plural(c.volumes, 'volume')}`;
  const verdict = r.problems.length === 0 ? 'no problems found' : repair ? `${plural(r.problems.length, 'problem')} repaired` : `${plural(r.problems.length, 'problem')} found; cunik system check --repair drops what cannot be used`;
  return [...lines, `Checked ${what}: ${verdict}`].join('\n') + '\n';
}

export function systemCheckCommand(group: Command): void {
  group
    .command('check')
    .description('Check instance records, every image blob against its digest, and volumes')
    .option('--repair', 'drop what cannot be used: damaged images and blobs, set-aside instance records (their VMs are ended); volumes are moved aside, never deleted')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(
      action(async (flags: { repair?: boolean; format: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        const r = await client.systemCheck(flags.repair ?? false);
        client.close();
        process.stdout.write(flags.format === 'json' ? json(r) : report(r, flags.repair ?? false));
        if (r.problems.some((p) => !p.repaired)) process.exitCode = 1;
      }),
    );
}
