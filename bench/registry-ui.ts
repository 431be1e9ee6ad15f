// registry-ui: CunikHub's web UI with 1,000 repositories in the hub. The store is filled through
// the hub's own storage code (Registry over FsDriver: blobs, links, manifests and tags as a push
// writes them): each repository has two tags naming real images, a config with org.cunik.* labels
// (four families in turn) and one layer, a tar holding cunik/kernel (the hello test kernel, shared
// by all, stored once). Then a real hub process serves that store and a client on loopback times
// full responses (request sent to the last byte of the body read), in ABBA order after a warm-up:
// - list_ms: the repository list (GET /: every repository's summary checked, the first page drawn);
// - image_ms: an image page (GET /images/NAME:TAG: manifest, config, referrers, kernel size);
// - search_ms: a search over all of them (GET /?q=...&family=...);
// - repo_ms: a repository's tag page.
// list_cold_ms is the first list, which reads every tag, manifest and config (the hub had not
// summarised anything yet); *_server_ms are the medians of the hub's own Server-Timing (handler
// start to the page rendered); hub_rss_mib and hub_peak_rss_mib the hub's VmRSS and VmHWM after
// the run (the caches included). The run waits until the store's folders are older than the
// summary cache's racy window (1 s), as on any hub that has been serving for a moment.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { Registry } from '../src/hub/registry.js';
import { FsDriver } from '../src/hub/storage/fs.js';
import * as k from '../src/hub/keys.js';
import { repo } from '../test/helpers/daemon.js';
import { startHub } from '../test/helpers/hub.js';
import { abba, header, median, now, round, scratchDir } from './harness.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const FAMILIES = [['generic', 'multiboot'], ['unikraft', 'multiboot'], ['linux', 'linux'], ['nanos', 'disk']] as const;
export const repoName = (i: number): string => `team-${i % 10}/app-${String(i).padStart(4, '0')}`;

async function layerTar(kernel: Buffer): Promise<Buffer> {
  const p = pack();
  p.entry({ name: 'cunik/', type: 'directory' });
  p.entry({ name: 'cunik/kernel', size: kernel.length }, kernel);
  p.finalize();
  const parts: Buffer[] = [];
  for await (const c of p) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** `count` repositories of two tags each, written as a push writes them. */
export async function fill(root: string, count: number): Promise<void> {
  const reg = new Registry(new FsDriver(root));
  const layer = await layerTar(readFileSync(join(repo, 'build', 'kernels', 'hello.elf')));
  await reg.store.write(k.blobKey(sha(layer)), layer);
  const one = async (i: number): Promise<void> => {
    const name = repoName(i);
    await reg.linkBlob(name, sha(layer));
    for (const tag of ['v1', 'latest']) {
      const [family, boot] = FAMILIES[i % FAMILIES.length]!;
      const config = Buffer.from(JSON.stringify({
        architecture: 'amd64', os: 'linux', created: new Date(Date.now() - i * 60_000).toISOString(),
        config: { Labels: { 'org.cunik.family': family, 'org.cunik.boot': boot, 'org.cunik.args': JSON.stringify([`app=${i}`, tag]), 'org.cunik.memory': '64', 'org.cunik.ports': '["80/tcp"]', 'bench.index': String(i) } },
        rootfs: { type: 'layers', diff_ids: [sha(layer)] },
      }));
      await reg.store.write(k.blobKey(sha(config)), config);
      await reg.linkBlob(name, sha(config));
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
      }));
      await reg.putManifest(name, tag, manifest, 'application/vnd.oci.image.manifest.v1+json');
    }
  };
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) await one(next++);
  }));
}

interface Timed {
  ms: number;
  serverMs: number;
}

async function get(url: string, expect: RegExp): Promise<Timed> {
  const t0 = now();
  const res = await fetch(url);
  const body = await res.text();
  const ms = now() - t0;
  if (res.status !== 200 || !expect.test(body)) throw new Error(`registry-ui: GET ${url} answered ${res.status} without ${expect}: ${body.slice(0, 300)}`);
  const st = /dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '');
  return { ms, serverMs: st ? Number(st[1]) : NaN };
}

export async function registryUi(count = 1000, rounds = 20): Promise<Record<string, number>> {
  header('registry-ui', { repositories: count, tags_each: 2, rounds, time: 'client-measured full response on loopback (Server-Timing as *_server_ms)' });
  const dir = await scratchDir();
  const root = join(dir, 'root');
  const t0 = now();
  await fill(root, count);
  const fill_s = (now() - t0) / 1000;
  const filledAt = Date.now();
  const hub = await startHub({ root, dir });
  try {
    const wait = filledAt + 1500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // past the racy window (see above)
    const middle = repoName(Math.floor(count / 2));
    const urls: Record<'list' | 'image' | 'search' | 'repo', [string, RegExp]> = {
      list: [`${hub.url}/`, new RegExp(`${count} repositories`)],
      image: [`${hub.url}/images/${middle}:v1`, /data-fact="kernel">[^<]*bytes/],
      search: [`${hub.url}/?q=app-05&family=unikraft`, /repositories match/],
      repo: [`${hub.url}/repositories/${middle}`, /data-tag="latest"/],
    };
    const cold = await get(...urls.list);
    const server: Record<string, number[]> = { list: [], image: [], search: [], repo: [] };
    const side = (n: keyof typeof urls) => async (): Promise<number> => {
      const r = await get(...urls[n]);
      server[n]!.push(r.serverMs);
      return r.ms;
    };
    const s = await abba(rounds, { list: side('list'), image: side('image'), search: side('search'), repo: side('repo') }, { warmup: 3 });
    const srv = (n: string): number => round(median(server[n]!.slice(-rounds)), 2);
    const status = readFileSync(`/proc/${hub.proc.pid}/status`, 'utf8');
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return {
      list_ms: round(median(s.list), 2),
      image_ms: round(median(s.image), 2),
      search_ms: round(median(s.search), 2),
      repo_ms: round(median(s.repo), 2),
      list_cold_ms: round(cold.ms, 1),
      list_server_ms: srv('list'),
      image_server_ms: srv('image'),
      hub_rss_mib: round(kib('VmRSS') / 1024, 1),
      hub_peak_rss_mib: round(kib('VmHWM') / 1024, 1),
      fill_s: round(fill_s, 1),
    };
  } finally {
    await hub.stop({ keepFiles: true });
    await rm(dir, { recursive: true, force: true });
  }
}
