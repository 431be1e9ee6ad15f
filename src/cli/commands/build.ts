// cunik build: send a directory (the build context, as a tar) and its Cunikfile to the daemon,
// which builds the image; print its progress lines as they come.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type Stats } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { pack as tarPack, type Pack } from 'tar-stream';
import { buildImage, missingContextFiles } from '../../client/build.js';
import { ApiError } from '../../client/http.js';
import type { CunikClient } from '../../client/index.js';
import { CONTEXT_BY_DIGEST_MIN } from '../../build/context-store.js';
import { DIGEST_RECORD } from '../../util/tar-guard.js';
import { DigestCache } from '../digest-cache.js';
import { parseTaggedReference } from '../../images/reference.js';
import { fsReason } from '../../util/fs-reason.js';
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

/** One entry of the context, in the order it is sent. */
interface ContextEntry { rel: string; full: string; st: Stats; linkname?: string }

async function listTree(root: string, dir: string, out: ContextEntry[]): Promise<ContextEntry[]> {
  for (const name of (await readdir(dir)).sort()) {
    if (dir === root && SKIP.has(name)) continue;
    const full = join(dir, name);
    const rel = relative(root, full).split(sep).join('/');
    const st = await lstat(full);
    if (st.isDirectory()) {
      out.push({ rel, full, st });
      await listTree(root, full, out);
    } else if (st.isSymbolicLink()) out.push({ rel, full, st, linkname: await readlink(full) });
    else if (st.isFile()) out.push({ rel, full, st });
  }
  return out;
}

/**
 * The context as a tar stream; a Cunikfile outside it is added under `extra`. A file in `refs`
 * (path to digest: content the daemon holds) is sent as a reference, an empty entry with the PAX
 * record CUNIK.digest, instead of its bytes.
 */
export function contextTar(entries: ContextEntry[], refs: Map<string, string>, extra?: { name: string; content: Buffer }): Pack {
  const p = tarPack();
  (async () => {
    for (const e of entries) {
      const base = { name: e.rel, mode: e.st.mode & 0o7777, mtime: EPOCH, uid: 0, gid: 0 };
      const ref = refs.get(e.full);
      if (e.st.isDirectory()) await entry(p, { ...base, type: 'directory' });
      else if (e.linkname !== undefined) await entry(p, { ...base, type: 'symlink', linkname: e.linkname });
      else if (ref !== undefined) await entry(p, { ...base, type: 'file', size: 0, pax: { [DIGEST_RECORD]: ref } }, Buffer.alloc(0));
      else {
        await new Promise<void>((res, rej) => {
          const sink = p.entry({ ...base, type: 'file', size: e.st.size }, (err) => (err ? rej(err) : res()));
          const src = createReadStream(e.full);
          src.on('error', (err) => { sink.destroy(err); rej(err); });
          src.pipe(sink);
        });
      }
    }
    if (extra) await entry(p, { name: extra.name, mode: 0o644, mtime: EPOCH, type: 'file' }, extra.content);
    p.finalize();
  })().catch((err: Error) => p.destroy(err));
  return p;
}

/** Big files the daemon already holds, by digest (it is asked which it lacks): path to digest. */
async function heldByDaemon(client: CunikClient, entries: ContextEntry[]): Promise<Map<string, string>> {
  const big = entries.filter((e) => e.st.isFile() && e.st.size >= CONTEXT_BY_DIGEST_MIN);
  if (big.length === 0) return new Map();
  const cache = new DigestCache();
  const digests = new Map<string, string>();
  for (const e of big) digests.set(e.full, await cache.digest(e.full, e.st));
  cache.save();
  const missing = new Set(await missingContextFiles(client, [...new Set(digests.values())]));
  return new Map([...digests].filter(([, d]) => !missing.has(d)));
}

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

export const buildAction = action(async (dirArg: string | undefined, flags: BuildFlags, cmd: Command) => {
  if (!flags.tag) throw new Error('name the image: -t NAME[:TAG]');
  parseTaggedReference(flags.tag, 't'); // a malformed name is said before the context is sent
  const dir = resolve(dirArg ?? '.');
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`build context ${dirArg ?? '.'} is not a directory`);
  let file: string | undefined;
  let extra: { name: string; content: Buffer } | undefined;
  if (flags.file !== undefined) {
    const full = resolve(flags.file);
    const rel = relative(dir, full);
    if (rel.startsWith('..') || resolve(dir, rel) !== full) {
      const content = await readFile(full).catch((err: unknown) => {
        throw new Error(`cannot read ${flags.file}: ${fsReason(err)}`);
      });
      extra = { name: `.cunikfile-${randomBytes(6).toString('hex')}`, content };
      file = extra.name;
    } else file = rel.split(sep).join('/');
  }
  const client = await clientFor(cmd);
  const entries = await listTree(dir, dir, []);
  const send = async (refs: Map<string, string>): Promise<{ id: string; ref: string }> => {
    if (!flags.quiet) {
      const files = entries.filter((e) => e.st.isFile());
      const held = files.filter((e) => refs.has(e.full)).reduce((n, e) => n + e.st.size, 0);
      const sent = files.reduce((n, e) => n + e.st.size, 0) - held;
      process.stdout.write(`Sending build context: ${files.length} files, ${mib(sent)}${held > 0 ? ` (${mib(held)} the daemon already holds)` : ''}\n`);
    }
    const context = contextTar(entries, refs, extra) as unknown as Readable;
    return buildImage(client, context, {
      tag: flags.tag!,
      ...(file !== undefined && { file }),
      ...(!flags.cache && { noCache: true }),
    }, (m) => {
      if (m.stream !== undefined && !flags.quiet) process.stdout.write(m.stream);
    });
  };
  const refs = await heldByDaemon(client, entries);
  let result: { id: string; ref: string };
  try {
    result = await send(refs);
  } catch (err) {
    // Content pruned between the question and the build: send everything.
    if (!(refs.size > 0 && err instanceof ApiError && err.field === 'body' && /does not hold/.test(err.message))) throw err;
    result = await send(new Map());
  }
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
