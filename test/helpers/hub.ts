// Test harness for CunikHub: a real hub process (bin/cunik-hub.js) on 127.0.0.1 with a temp root,
// OCI image layouts made from random bytes for real clients (skopeo) to push, and a consistency
// check of a store (what a crash must never leave behind).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HUB_NODE_FLAGS, installRoot } from '../../src/config/defaults.js';
import { killOnExitSignal } from './cleanup.js';

export const hubBin = join(installRoot(), 'bin', 'cunik-hub.js');

export interface TestHub {
  url: string;
  /** host:port, for docker:// references. */
  host: string;
  root: string;
  dir: string;
  proc: ChildProcess;
  output: () => string;
  stop(opts?: { keepFiles?: boolean; signal?: NodeJS.Signals }): Promise<void>;
}

export async function startHub(opts: { root?: string; dir?: string; args?: string[]; config?: string } = {}): Promise<TestHub> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'cunik-hub-t-')));
  const root = opts.root ?? join(dir, 'root');
  const args = ['serve', '--addr', '127.0.0.1:0', '--root', root, ...(opts.args ?? [])];
  if (opts.config !== undefined) {
    writeFileSync(join(dir, 'config.yaml'), opts.config);
    args.push('--config', join(dir, 'config.yaml'));
  }
  const proc = spawn(process.execPath, [...HUB_NODE_FLAGS, hubBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExitSignal(proc); // a killed test leaves no hub behind
  if (process.env['CUNIK_HUB_TRACE'] === '1') proc.stderr!.pipe(process.stderr);
  let out = '';
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', (code) => reject(new Error(`cunik-hub exited (${code}) before listening: ${out}`)));
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    url,
    host: new URL(url).host,
    root,
    dir,
    proc,
    output: () => out,
    async stop(o = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(o.signal ?? 'SIGTERM');
      await exited;
      if (!o.keepFiles && opts.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

export const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Layout {
  dir: string;
  manifest: Buffer;
  digest: string;
  config: Buffer;
  layers: Buffer[];
}

function putBlob(dir: string, b: Buffer): { digest: string; size: number } {
  const digest = sha256(b);
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), b);
  return { digest, size: b.length };
}

/** An OCI image layout at `dir` with one image tagged `tag`: random (incompressible) layers. */
export function ociLayout(dir: string, opts: { tag?: string; layerSizes?: number[]; mediaTypes?: 'oci' | 'docker'; labels?: Record<string, string> } = {}): Layout {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layers = (opts.layerSizes ?? [4096]).map((n) => randomBytes(n));
  const docker = opts.mediaTypes === 'docker';
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Labels: opts.labels ?? { 'org.cunik.family': 'generic' } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', ...putBlob(dir, config) },
    layers: layers.map((l) => ({ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar' : 'application/vnd.oci.image.layer.v1.tar', ...putBlob(dir, l) })),
  }));
  const m = putBlob(dir, manifest);
  const index = existsSync(join(dir, 'index.json')) ? JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) : { schemaVersion: 2, manifests: [] };
  index.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': opts.tag ?? 'latest' } });
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return { dir, manifest, digest: m.digest, config, layers };
}

/**
 * What a hub store must satisfy at every moment, a crash included: each tag names a manifest the
 * repository holds, each held manifest's blob is in the store and so is everything it names,
 * each blob's bytes match its digest. Returns the problems found ([] when consistent).
 */
export function storeProblems(root: string): string[] {
  const problems: string[] = [];
  const blobs = join(root, 'blobs', 'sha256');
  const blobOk = (d: string): boolean => existsSync(join(blobs, d.slice(7)));
  if (existsSync(blobs)) {
    for (const hex of readdirSync(blobs).filter((n) => !n.startsWith('.'))) {
      if (sha256(readFileSync(join(blobs, hex))) !== `sha256:${hex}`) problems.push(`blob ${hex} does not match its digest`);
    }
  }
  const walk = (dir: string, name: string): void => {
    if (!existsSync(dir)) return;
    const children = readdirSync(dir);
    if (children.includes('_manifests')) {
      const revs = join(dir, '_manifests', 'revisions', 'sha256');
      const held = existsSync(revs) ? readdirSync(revs).filter((n) => !n.startsWith('.')) : [];
      const tags = join(dir, '_manifests', 'tags');
      for (const t of existsSync(tags) ? readdirSync(tags).filter((n) => !n.startsWith('.')) : []) {
        const d = readFileSync(join(tags, t), 'utf8').trim();
        if (!held.includes(d.slice(7))) problems.push(`${name}:${t} names ${d}, which the repository does not hold`);
      }
      const layers = join(dir, '_layers', 'sha256');
      const linked = existsSync(layers) ? readdirSync(layers).filter((n) => !n.startsWith('.')) : [];
      for (const hex of held) {
        if (!blobOk(`sha256:${hex}`)) { problems.push(`${name}@sha256:${hex}: manifest blob missing`); continue; }
        const m = JSON.parse(readFileSync(join(blobs, hex), 'utf8'));
        const named: string[] = [m.config?.digest, ...(m.layers ?? []).map((l: { digest: string }) => l.digest)].filter(Boolean);
        for (const d of named) if (!blobOk(d) || !linked.includes(d.slice(7))) problems.push(`${name}@sha256:${hex} names ${d}, which is missing`);
        for (const c of (m.manifests ?? []) as { digest: string }[]) if (!held.includes(c.digest.slice(7))) problems.push(`${name}@sha256:${hex} names manifest ${c.digest}, which is missing`);
      }
    }
    for (const c of children) if (!c.startsWith('_') && !c.startsWith('.')) walk(join(dir, c), name ? `${name}/${c}` : c);
  };
  walk(join(root, 'repositories'), '');
  return problems;
}
