// `from:` container images for the linux builder: an OCI image layout tarball
// ("oci-archive:PATH", as `skopeo copy ... oci-archive:` or `docker buildx --output type=oci` write)
// or a `docker save` tarball ("docker-archive:PATH"). Its layers are applied in order into a root
// directory (rootfs.ts), and its config gives the app: Entrypoint + Cmd (Docker's rule: with an
// Entrypoint, Cmd is its default arguments; without one, Cmd is the whole command), Env, WorkingDir,
// User (who the command runs as: userland.ts resolves it in the image's /etc/passwd).

import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { extract as tarExtract } from 'tar-stream';
import { invalid } from '../../errors.js';
import { applyLayers, resolveIn, type AppliedTree, type TreeRow } from './rootfs.js';
import { insideDir } from '../../util/inside-dir.js';
import { extractTar, TarGuard } from '../../util/tar-guard.js';

export interface ContainerSource {
  kind: 'oci-archive' | 'docker-archive';
  path: string;
}

export interface ContainerImage {
  layers: number;
  /** What applying the layers made: their computed diff_ids and the tree's resident size. */
  applied: AppliedTree;
  /** The command the image runs: the app's absolute guest path first. */
  command: string[];
  /** Default arguments (Cmd when there is an Entrypoint). */
  args: string[];
  env: string[];
  workdir?: string;
  /** Config.User: NAME, UID, NAME:GROUP or UID:GID. */
  user?: string;
}

interface ImageConfigDoc {
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string };
}

export function parseFrom(from: string, resolvePath: (p: string) => string): ContainerSource {
  const m = /^(oci-archive|docker-archive):(.+)$/.exec(from);
  if (!m) {
    throw invalid(`from: ${JSON.stringify(from)}: give a container image tarball as oci-archive:PATH or docker-archive:PATH (images in Cunik's store are unikernel images, not container images)`, 'from');
  }
  return { kind: m[1] as ContainerSource['kind'], path: resolvePath(m[2]!) };
}

/** Unpack a tarball under `dir` (src/util/tar-guard.ts: nothing outside it). */
async function unpackArchive(file: string, dir: string): Promise<void> {
  const extract = tarExtract();
  const src = createReadStream(file);
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract as unknown as NodeJS.WritableStream);
  await extractTar(extract, dir, new TarGuard({ what: `from: ${posix.basename(file)}`, field: 'from' }));
}

const readJson = <T>(file: string, what: string): T => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw invalid(`from: ${what}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message}`, 'from');
  }
};
/** A file the archive's own JSON names: inside the archive, symlinks followed, or refused. */
const member = (dir: string, rel: string): string => {
  const p = typeof rel === 'string' ? insideDir(dir, rel) : undefined;
  if (p === undefined) throw invalid(`from: the archive names ${JSON.stringify(rel)}, which is outside it`, 'from');
  return p;
};
const blob = (dir: string, digest: string): string => {
  if (typeof digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw invalid(`from: the archive names a blob by ${JSON.stringify(digest)}, not a sha256 digest`, 'from');
  return member(dir, join('blobs', ...digest.split(':')));
};

/** Config and layer files of the archive's (amd64) image. */
function locate(src: ContainerSource, dir: string): { config: ImageConfigDoc; layers: string[] } {
  if (src.kind === 'docker-archive') {
    const list = readJson<{ Config: string; Layers: string[] }[]>(member(dir, 'manifest.json'), 'manifest.json');
    const m = list[0];
    if (!m) throw invalid('from: the docker archive holds no image', 'from');
    if (!Array.isArray(m.Layers)) throw invalid('from: the docker archive\'s manifest.json lists no Layers', 'from');
    return { config: readJson(member(dir, m.Config), m.Config), layers: m.Layers.map((l) => member(dir, l)) };
  }
  type Desc = { mediaType?: string; digest: string; platform?: { architecture?: string } };
  let desc: Desc | undefined = readJson<{ manifests: Desc[] }>(member(dir, 'index.json'), 'index.json').manifests[0];
  for (let depth = 0; desc && /index|manifest\.list/.test(desc.mediaType ?? '') && depth < 4; depth++) {
    const idx: { manifests: Desc[] } = readJson(blob(dir, desc.digest), desc.digest);
    desc = idx.manifests.find((m) => (m.platform?.architecture ?? 'amd64') === 'amd64');
  }
  if (!desc) throw invalid('from: the OCI archive holds no amd64 image manifest', 'from');
  const manifest = readJson<{ config: Desc; layers: Desc[] }>(blob(dir, desc.digest), desc.digest);
  return { config: readJson(blob(dir, manifest.config.digest), 'config'), layers: manifest.layers.map((l) => blob(dir, l.digest)) };
}

/** Find a command the way execvp would in the image: PATH from its env, symlinks inside root. */
async function lookPath(root: string, cmd: string, env: string[]): Promise<string> {
  if (cmd.includes('/')) return posix.resolve('/', cmd);
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of path.split(':').filter(Boolean)) {
    const guest = posix.join(dir, cmd);
    if (existsSync(await resolveIn(root, guest, true))) return guest;
  }
  throw invalid(`from: the image's command ${cmd} is not in its PATH (${path})`, 'from');
}

/** Unpack the image's root file system into `root` (via `scratch`); return how it runs, and the tree's rows (rootfs.ts: listTree). */
export async function unpackContainer(src: ContainerSource, scratch: string, root: string): Promise<ContainerImage & { rows: TreeRow[] }> {
  if (!existsSync(src.path)) throw invalid(`from: ${src.path}: no such file`, 'from');
  await unpackArchive(src.path, scratch).catch((err: Error) => {
    if ((err as { code?: string }).code === 'INVALID_ARGUMENT') throw err;
    throw invalid(`from: ${src.path} is not a readable tar: ${err.message}`, 'from');
  });
  const { config, layers } = locate(src, scratch);
  await mkdir(root, { recursive: true });
  const { rows, ...applied } = await applyLayers(root, layers.map((file) => ({ file, what: `from: layer ${posix.basename(file)}` })));
  const c = config.config ?? {};
  const env = [...(c.Env ?? [])];
  const entrypoint = c.Entrypoint ?? [];
  const cmd = c.Cmd ?? [];
  const whole = entrypoint.length > 0 ? entrypoint : cmd;
  if (whole.length === 0) throw invalid('from: the image has neither Entrypoint nor Cmd: set "args" or use "app"', 'from');
  const app = await lookPath(root, whole[0]!, env);
  return {
    layers: layers.length,
    applied,
    rows,
    command: [app, ...whole.slice(1)],
    args: entrypoint.length > 0 ? [...cmd] : [],
    env,
    ...(c.WorkingDir ? { workdir: c.WorkingDir } : {}),
    ...(typeof c.User === 'string' && c.User !== '' ? { user: c.User } : {}),
  };
}
