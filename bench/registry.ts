// registry: CunikHub against Debian's docker-registry (Docker Distribution 2.8), both started here
// on 127.0.0.1 with temp roots on the same filesystem, driven by the same client: Cunik's own
// registry client (src/images/registry.ts) as distribution.ts uses it. A push is HEAD, POST and a
// monolithic PUT per blob, then the manifest; a pull is the manifest and the blobs streamed (three at once) into a
// pull's staging area (hashed while written, fsynced, verified), as the daemon pulls (blob-download.ts). Each round
// pushes an image of fresh layers (so nothing is already there) then pulls it back. The third side
// is the physical limit of the same work: the layer files read from the page cache, hashed
// (sha256) and written (fsynced) beside the hub's root, with 1 MiB buffers and no network.
// Neither side's timing includes deleting what it wrote (the daemon keeps a pull's blobs: it moves
// them into its store), which on this host's ext4 costs up to a quarter of a pull's time.
// Then: the hub's peak RSS (VmHWM) over the whole run, the time to first byte of a manifest GET,
// and `cunik pull` of an image already present against `cunik version`.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { dirname, join } from 'node:path';
import { Staging } from '../src/images/blobs.js';
import { downloadBlob } from '../src/images/blob-download.js';
import { eachLimited, PULL_PARALLEL, PUSH_READ_BYTES } from '../src/images/distribution.js';
import { RegistryClient } from '../src/images/registry.js';
import { MT, type Descriptor } from '../src/images/oci.js';
import { repo } from '../test/helpers/daemon.js';
import { startHub } from '../test/helpers/hub.js';
import { startDockerRegistry } from '../test/helpers/registry.js';
import { abba, daemonWithHello, header, median, now, round, scratchDir } from './harness.js';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Blob {
  digest: string;
  size: number;
  path: string;
}
interface Image {
  blobs: Blob[];
  manifest: Buffer;
  bytes: number;
}

/** An image of `layers` fresh layers: a unique 32-byte head then the shared random (incompressible) body. */
async function makeImage(dir: string, body: Buffer, layers: number): Promise<Image> {
  await mkdir(dir, { recursive: true });
  const blobs: Blob[] = [];
  const put = async (b: Buffer): Promise<Blob> => {
    const digest = sha256(b);
    const path = join(dir, digest.slice(7));
    await writeFile(path, b);
    return { digest, size: b.length, path };
  };
  const ls: Blob[] = [];
  for (let i = 0; i < layers; i++) ls.push(await put(Buffer.concat([randomBytes(32), body])));
  const config = await put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { 'org.cunik.family': 'generic' } }, rootfs: { type: 'layers', diff_ids: ls.map((l) => l.digest) } })));
  blobs.push(config, ...ls);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT.manifest,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: ls.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size })),
  }));
  return { blobs, manifest, bytes: ls.reduce((n, l) => n + l.size, 0) };
}

/** As distribution.ts pushes: HEAD each blob, upload the missing ones, then the manifest. */
async function push(client: RegistryClient, tag: string, img: Image): Promise<void> {
  for (const b of img.blobs) {
    if (await client.hasBlob(b.digest)) throw new Error(`bench: blob ${b.digest} is already in ${client.domain}`);
    await client.putBlob(b.digest, b.size, () => createReadStream(b.path, { highWaterMark: PUSH_READ_BYTES }) as unknown as BodyInit);
  }
  await client.putManifest(tag, img.manifest, MT.manifest);
}

/**
 * As distribution.ts pulls: the manifest, then the blobs (PULL_PARALLEL at once) into a staging
 * area, verified. The daemon then moves them into its store; here they are deleted, which is no
 * part of a pull, so `staging` is disposed of by the caller once the pull is timed.
 */
async function pull(client: RegistryClient, tag: string, staging: Staging): Promise<number> {
  const m = await client.getManifest(tag);
  const doc = JSON.parse(m.bytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  let n = 0;
  await eachLimited([doc.config, ...doc.layers], PULL_PARALLEL, async (d) => {
    const got = await downloadBlob(staging, client, d, `blob ${d.digest}`);
    n += got.size;
  });
  return n;
}

/** The physical limit: read from the page cache, hash, write and fsync beside the hub's root (deleted by the caller, untimed). */
async function limit(img: Image, dir: string): Promise<void> {
  const buf = Buffer.allocUnsafe(MiB);
  for (const b of img.blobs.slice(1)) {
    const src = await open(b.path, 'r');
    const out = await open(join(dir, `limit-${b.digest.slice(7, 19)}`), 'w');
    const hash = createHash('sha256');
    try {
      for (;;) {
        const { bytesRead } = await src.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        hash.update(chunk);
        await out.write(chunk);
      }
      await out.sync();
      if (`sha256:${hash.digest('hex')}` !== b.digest) throw new Error('bench: the limit side read other bytes');
    } finally {
      await src.close();
      await out.close();
    }
  }
}

/** Time to the response headers of a manifest GET, over a kept-alive connection. */
function ttfb(agent: Agent, host: string, path: string): Promise<number> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const t0 = now();
    const req = request({ agent, hostname, port: Number(port), path, headers: { accept: MT.manifest } }, (res) => {
      const ms = now() - t0;
      if (res.statusCode !== 200) return reject(new Error(`bench: manifest GET answered ${res.statusCode}`));
      res.resume();
      res.once('end', () => resolve(ms));
    });
    req.once('error', reject);
    req.end();
  });
}

const rssMiB = (pid: number, field: 'VmHWM' | 'VmRSS'): number => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`bench: no ${field} for pid ${pid}`);
  return Number(m[1]) / 1024;
};

function timed(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    let err = '';
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(now() - t0) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

export async function registryBench(rounds = 4, layerMiB = 64, layers = 4): Promise<Record<string, number>> {
  header('registry', { rounds, warmup: 1, layers, layer_mib: layerMiB, mb: '10^6 bytes', ttfb_requests: 200, noop_pull_rounds: 10 });
  const dir = await scratchDir();
  await mkdir(join(dir, 'hub'), { recursive: true });
  const hub = await startHub({ dir: join(dir, 'hub') });
  const dr = await startDockerRegistry();
  const body = randomBytes(layerMiB * MiB - 32);
  const limitDir = join(dirname(hub.root), 'limit');
  await mkdir(limitDir, { recursive: true });
  const sides = { hub: hub.host, dr: dr.host };
  const pulls: Record<'hub' | 'dr', number[]> = { hub: [], dr: [] };
  let seq = 0;
  const lastRepo: Record<'hub' | 'dr', string> = { hub: '', dr: '' };
  try {
    const transfer = (side: 'hub' | 'dr') => async (): Promise<number> => {
      const n = seq++;
      const img = await makeImage(join(dir, `img-${n}`), body, layers);
      const client = new RegistryClient(sides[side], `bench/r${n}`);
      const t0 = now();
      await push(client, 'v1', img);
      const pushS = (now() - t0) / 1000;
      const staging = await Staging.create(join(dir, 'staging'), 'pull');
      const t1 = now();
      let got: number;
      let pullS: number;
      try {
        got = await pull(new RegistryClient(sides[side], `bench/r${n}`), 'v1', staging);
        pullS = (now() - t1) / 1000;
      } finally {
        staging.dispose();
      }
      if (got !== img.bytes + img.blobs[0]!.size) throw new Error(`bench: pulled ${got} bytes, pushed ${img.bytes}`);
      pulls[side].push(img.bytes / 1e6 / pullS);
      lastRepo[side] = `bench/r${n}`;
      await rm(join(dir, `img-${n}`), { recursive: true, force: true });
      return img.bytes / 1e6 / pushS;
    };
    await mkdir(join(dir, 'staging'), { recursive: true });
    const limitImg = await makeImage(join(dir, 'img-limit'), body, layers);
    const limitSide = async (): Promise<number> => {
      const t0 = now();
      await limit(limitImg, limitDir);
      const s = (now() - t0) / 1000;
      await rm(limitDir, { recursive: true, force: true });
      await mkdir(limitDir, { recursive: true });
      return limitImg.bytes / 1e6 / s;
    };
    const mbs = await abba(rounds, { hub: transfer('hub'), dr: transfer('dr'), limit: limitSide }, {
      warmup: 1,
      onRound: (r, last) => console.log(`# round ${r}: push MB/s hub ${round(last.hub, 1)} docker-registry ${round(last.dr, 1)}; pull MB/s hub ${round(pulls.hub.at(-1)!, 1)} docker-registry ${round(pulls.dr.at(-1)!, 1)}; limit ${round(last.limit, 1)}`),
    });
    // The warm-up round's pulls are not figures.
    pulls.hub.shift();
    pulls.dr.shift();

    // Time to first byte of a manifest GET, each registry on its own kept-alive connection.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ttfbOf = async (host: string, name: string): Promise<number> => {
      const path = `/v2/${name}/manifests/v1`;
      for (let i = 0; i < 20; i++) await ttfb(agent, host, path);
      const xs: number[] = [];
      for (let i = 0; i < 200; i++) xs.push(await ttfb(agent, host, path));
      return median(xs);
    };
    const hubTtfb = await ttfbOf(hub.host, lastRepo.hub);
    const drTtfb = await ttfbOf(dr.host, lastRepo.dr);
    agent.destroy();

    // `cunik pull` of an image already present, against `cunik version`.
    const d = await daemonWithHello();
    let pullMs: number[];
    let versionMs: number[];
    try {
      const ref = `${hub.host}/bench/hello:1`;
      await d.client.tagImage('hello', ref);
      const cunik = join(repo, 'bin', 'cunik');
      const host = ['-H', `unix://${d.socket}`];
      await timed(cunik, [...host, 'push', ref]);
      await timed(cunik, [...host, 'pull', ref]);
      const ms = await abba(10, { pull: () => timed(cunik, [...host, 'pull', ref]), version: () => timed(cunik, [...host, 'version']) }, { warmup: 1 });
      pullMs = ms.pull;
      versionMs = ms.version;
    } finally {
      await d.stop();
    }

    const hubPeak = rssMiB(hub.proc.pid!, 'VmHWM');
    const drPeak = rssMiB(dr.pid, 'VmHWM');
    const [hubPush, drPush, hubPull, drPull, lim] = [median(mbs.hub), median(mbs.dr), median(pulls.hub), median(pulls.dr), median(mbs.limit)];
    return {
      hub_push_mbs: round(hubPush, 1),
      dr_push_mbs: round(drPush, 1),
      hub_pull_mbs: round(hubPull, 1),
      dr_pull_mbs: round(drPull, 1),
      limit_mbs: round(lim, 1),
      push_ratio: round(hubPush / drPush, 3),
      pull_ratio: round(hubPull / drPull, 3),
      pull_vs_limit: round(hubPull / lim, 3),
      hub_peak_rss_mib: round(hubPeak, 1),
      dr_peak_rss_mib: round(drPeak, 1),
      manifest_ttfb_ms: round(hubTtfb, 3),
      dr_manifest_ttfb_ms: round(drTtfb, 3),
      pull_present_ms: round(median(pullMs), 1),
      version_ms: round(median(versionMs), 1),
      noop_pull_ms: round(median(pullMs) - median(versionMs), 1),
    };
  } finally {
    await hub.stop();
    await dr.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
