// cunik images: list images (--filter reference=, label=, dangling=, before=, since=; --format
// table, json or a Go template).
import type { Command } from 'commander';
import { addFilterTerm, type Filters } from '../../util/filters.js';
import { ago, bytes, json, shortId, table } from '../format/table.js';
import { action, clientFor } from '../util.js';

interface ImagesFlags {
  quiet?: boolean;
  format: string;
  filter: Filters;
  trunc: boolean;
  digests?: boolean;
}

export function imagesAction(flags: ImagesFlags, cmd: Command): Promise<void> {
  return action(async () => {
    const template = flags.format !== 'table' && flags.format !== 'json' ? await import('../format/output.js') : undefined;
    const client = await clientFor(cmd);
    const list = await client.listImages(flags.filter);
    client.close();
    if (flags.quiet) process.stdout.write([...new Set(list.map((i) => (flags.trunc ? shortId(i.id) : i.id)))].map((id) => `${id}\n`).join(''));
    else if (flags.format === 'json') process.stdout.write(json(list));
    else if (template) {
      const { imageRows, IMAGE_HEADERS } = await import('../format/views.js');
      process.stdout.write(template.renderList(flags.format, imageRows(list, flags.trunc), IMAGE_HEADERS));
    } else {
      const rows: string[][] = [];
      for (const i of list) {
        const refs = i.repoTags.length ? i.repoTags : ['<none>:<none>'];
        for (const ref of refs) {
          const colon = ref.lastIndexOf(':');
          rows.push([ref.slice(0, colon), ref.slice(colon + 1), ...(flags.digests ? [i.digest || '<none>'] : []), flags.trunc ? shortId(i.id) : i.id, i.family, ago(i.created), bytes(i.size)]);
        }
      }
      process.stdout.write(table(['REPOSITORY', 'TAG', ...(flags.digests ? ['DIGEST'] : []), 'IMAGE ID', 'FAMILY', 'CREATED', 'SIZE'], rows));
    }
  })();
}

export function imagesFlags(cmd: Command): Command {
  return cmd
    .option('-q, --quiet', 'only show image ids')
    .option('-f, --filter <KEY=VALUE>', 'reference=PATTERN, label=KEY[=VALUE], dangling=true|false, before=IMAGE, since=IMAGE (repeatable)', addFilterTerm, {} as Filters)
    .option('--no-trunc', 'do not truncate ids')
    .option('--digests', "show each image's manifest digest")
    .option('--format <format>', "output format: table, json (the native summaries), or a Go template: '{{.Repository}}:{{.Tag}}', 'table {{.ID}}\\t{{.Size}}'", 'table');
}

export function register(program: Command): void {
  imagesFlags(program.command('images').description('List images')).action(imagesAction);
}
