// cunik build: send a directory (the build context, as a tar) and its Cunikfile to the daemon,
// which builds the image; print its progress lines as they come.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { pack as tarPack, type Pack } from 'tar-stream';
import { buildImage } from '../../client/build.js';
import { action, clientFor } from '../util.js';

interface BuildFlags {
  tag?: string;
  file?: string;
  cache: boolean;
  quiet?: boolean;
}

const EPOCH = new Date(0);
/** Never sent: version-control data is not build input. */
const SKIP = new Set(['.git', '.hg', '.svn']);

function entry(p: Pack, header: Parameters<Pack['entry']>[0], body?: Buffer | string): Promise<void> {
  return new Promise((res, rej) => {
    if (body !== undefined) p.entry(header, body, (e) => (e ? rej(e) : res()));
    else p.entry(header, (e) => (e ? rej(e) : res()));
  });
}

async function addTree(p: Pack, root: string, dir: string): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    if (dir === root && SKIP.has(name)) continue;
    const full = join(dir, name);
    const rel = relative(root, full).split(sep).join('/');
    const st = await lstat(full);
    const base = { name: rel, mode: st.mode & 0o7777, mtime: EPOCH, uid: 0, gid: 0 };
    if (st.isDirectory()) {
      await entry(p, { ...base, type: 'directory' });
      await addTree(p, root, full);
    } else if (st.isSymbolicLink()) {
      await entry(p, { ...base, type: 'symlink', linkname: await readlink(full) });
    } else if (st.isFile()) {
      await new Promise<void>((res, rej) => {
        const sink = p.entry({ ...base, type: 'file', size: st.size }, (e) => (e ? rej(e) : res()));
        const src = createReadStream(full);
        src.on('error', (e) => { sink.destroy(e); rej(e); });
        src.pipe(sink);
      });
    }
  }
}

/** The context as a tar stream; a Cunikfile outside it is added under `extra`. */
export function contextTar(dir: string, extra?: { name: string; content: Buffer }): Pack {
  const p = tarPack();
  (async () => {
    await addTree(p, dir, dir);
    if (extra) await entry(p, { name: extra.name, mode: 0o644, mtime: EPOCH, type: 'file' }, extra.content);
    p.finalize();
  })().catch((err: Error) => p.destroy(err));
  return p;
}

export const buildAction = action(async (dirArg: string | undefined, flags: BuildFlags, cmd: Command) => {
  if (!flags.tag) throw new Error('name the image: -t NAME[:TAG]');
  const dir = resolve(dirArg ?? '.');
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`build context ${dirArg ?? '.'} is not a directory`);
  let file: string | undefined;
  let extra: { name: string; content: Buffer } | undefined;
  if (flags.file !== undefined) {
    const full = resolve(flags.file);
    const rel = relative(dir, full);
    if (rel.startsWith('..') || resolve(dir, rel) !== full) {
      const content = await readFile(full).catch(() => {
        throw new Error(`cannot read ${flags.file}`);
      });
      extra = { name: `.cunikfile-${randomBytes(6).toString('hex')}`, content };
      file = extra.name;
    } else file = rel.split(sep).join('/');
  }
  const client = await clientFor(cmd);
  const context = contextTar(dir, extra) as unknown as Readable;
  const result = await buildImage(client, context, {
    tag: flags.tag,
    ...(file !== undefined && { file }),
    ...(!flags.cache && { noCache: true }),
  }, (m) => {
    if (m.stream !== undefined && !flags.quiet) process.stdout.write(m.stream);
  });
  client.close();
  if (flags.quiet) process.stdout.write(`${result.id}\n`);
});

export function buildFlags(cmd: Command): Command {
  return cmd
    .option('-t, --tag <name>', 'NAME[:TAG] for the image')
    .option('-f, --file <file>', 'the Cunikfile (default: DIR/Cunikfile)')
    .option('--no-cache', 'rebuild every step')
    .option('-q, --quiet', 'print only the image id')
    .argument('[dir]', 'build context directory', '.');
}

export function register(program: Command): void {
  buildFlags(program.command('build').description('Build an image from a Cunikfile')).action(buildAction);
}
