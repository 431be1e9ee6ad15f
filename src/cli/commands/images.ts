// cunik images: list images.
import { Option, type Command } from 'commander';
import { ago, bytes, json, shortId, table } from '../format/table.js';
import { action, clientFor } from '../util.js';

export function imagesAction(flags: { quiet?: boolean; format: string }, cmd: Command): Promise<void> {
  return action(async () => {
    const client = await clientFor(cmd);
    const list = await client.listImages();
    client.close();
    if (flags.quiet) process.stdout.write([...new Set(list.map((i) => shortId(i.id)))].map((id) => `${id}\n`).join(''));
    else if (flags.format === 'json') process.stdout.write(json(list));
    else {
      const rows: string[][] = [];
      for (const i of list) {
        const refs = i.repoTags.length ? i.repoTags : ['<none>:<none>'];
        for (const ref of refs) {
          const colon = ref.lastIndexOf(':');
          rows.push([ref.slice(0, colon), ref.slice(colon + 1), shortId(i.id), i.family, ago(i.created), bytes(i.size)]);
        }
      }
      process.stdout.write(table(['REPOSITORY', 'TAG', 'IMAGE ID', 'FAMILY', 'CREATED', 'SIZE'], rows));
    }
  })();
}

export function imagesFlags(cmd: Command): Command {
  return cmd
    .option('-q, --quiet', 'only show image ids')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'));
}

export function register(program: Command): void {
  imagesFlags(program.command('images').description('List images')).action(imagesAction);
}
