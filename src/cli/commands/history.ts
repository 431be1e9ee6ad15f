// cunik history: the steps that made an image, newest first (docker history).
import type { Command } from 'commander';
import type { ImageDetail } from '../../api/schemas.js';
import { ago, bytes, json, shortId, table } from '../format/table.js';
import { action, clientFor } from '../util.js';

interface HistoryFlags {
  quiet?: boolean;
  format: string;
  trunc: boolean;
  human: boolean;
}

/** One step as the --format fields Docker's history has (.ID .CreatedSince .CreatedAt .CreatedBy .Size .Comment). */
export function historyRows(image: ImageDetail, flags: { trunc: boolean; human: boolean }): Record<string, string>[] {
  return image.history.map((h, n) => {
    const known = h.created !== '' && Number.isFinite(Date.parse(h.created));
    return {
      ID: n === 0 ? (flags.trunc ? shortId(image.id) : image.id) : '<missing>',
      CreatedSince: !known ? 'N/A' : flags.human ? ago(h.created) : h.created,
      CreatedAt: known ? h.created : 'N/A',
      // Docker cuts the command at 45 characters unless --no-trunc.
      CreatedBy: flags.trunc && [...h.createdBy].length > 45 ? [...h.createdBy].slice(0, 44).join('') + '…' : h.createdBy,
      Size: flags.human ? bytes(h.size) : String(h.size),
      Comment: h.comment,
    };
  });
}

export const HISTORY_HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

export const historyAction = action(async (ref: string, flags: HistoryFlags, cmd: Command) => {
  const client = await clientFor(cmd);
  const image = await client.inspectImage(ref);
  client.close();
  const rows = historyRows(image, flags);
  if (flags.quiet) return void process.stdout.write(rows.map((r) => `${r['ID']}\n`).join(''));
  if (flags.format === 'json') return void process.stdout.write(json(image.history));
  if (flags.format !== 'table') {
    const { renderList } = await import('../format/output.js');
    return void process.stdout.write(renderList(flags.format, rows, HISTORY_HEADERS));
  }
  process.stdout.write(table(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows.map((r) => [r['ID']!, r['CreatedSince']!, r['CreatedBy']!, r['Size']!, r['Comment']!])));
});

export function historyCommand(parent: Command): Command {
  return parent
    .command('history')
    .description('Show the history of an image')
    .argument('<image>')
    .option('-q, --quiet', 'only show image ids')
    .option('--no-trunc', "do not truncate ids and the steps' commands")
    .option('--no-human', 'print sizes in bytes and times as RFC 3339')
    .option('--format <format>', "output format: table, json (the native entries), or a Go template: '{{.CreatedBy}} {{.Size}}'", 'table')
    .action(historyAction);
}

export function register(program: Command): void {
  historyCommand(program);
}
