// build-cache: `cunik build` of the redis example (examples/redis: Debian's redis-server, its 18
// libraries and one added file, redis.conf) through the CLI as typed, wall time of the CLI process:
// - cold_s: the first build on a fresh daemon root, hence an empty build cache: it includes
//   extracting the uncompressed vmlinux from Debian's xz-compressed bzImage (cached by the bzImage's
//   digest under <root>/build-cache like every step; kernel_extract_s is that part, as the build
//   output reports it), resolving the libraries, writing and compressing the initramfs and the layers;
// - warm_s: rebuilding the unchanged Cunikfile (every step from the cache);
// - one_file_s: the rebuild after redis.conf changed (a comment appended: only the initramfs step
//   runs again, each time with a new change).
// The warm and one-file builds alternate in ABBA order (4 of each); medians.
// The context is a copy of examples/redis in a temporary directory. image_mib: the image's layers as
// stored (the compressed kernel layer and the gzip initramfs), in MiB.
// Goals (bench/goals.ts): warm_s <= 0.5, one_file_ratio = one_file_s / cold_s <= 1/3.
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, repo, startDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { abba, header, median, now, round } from './harness.js';

async function timedBuild(d: TestDaemon, ctx: string, expectCached: number): Promise<{ s: number; out: string }> {
  const t0 = now();
  const r = await cli(['build', '-t', 'redis', ctx], { socket: d.socket });
  const s = (now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`build-cache: cunik build failed: ${r.stderr}${r.stdout}`);
  const cached = r.stdout.match(/---> Using cache/g)?.length ?? 0;
  if (cached !== expectCached) throw new Error(`build-cache: expected ${expectCached} cached steps, got ${cached}:\n${r.stdout}`);
  return { s, out: r.stdout };
}

export async function buildCache(rounds = 4): Promise<Record<string, number>> {
  header('build-cache', { rounds });
  const d = await startDaemon();
  const ctx = mkdtempSync(join(tmpdir(), 'cunik-redis-ctx-'));
  try {
    cpSync(join(repo, 'examples', 'redis'), ctx, { recursive: true });
    const cold = await timedBuild(d, ctx, 0);
    const extract = /extracted the \S+ vmlinux .* in ([\d.]+) s/.exec(cold.out);
    let changes = 0;
    const s = await abba(rounds, {
      warm: async () => (await timedBuild(d, ctx, 2)).s,
      one_file: async () => {
        appendFileSync(join(ctx, 'redis.conf'), `# changed by the build-cache benchmark, ${changes++}\n`);
        return (await timedBuild(d, ctx, 1)).s; // the kernel step from the cache, the initramfs rebuilt
      },
    });
    const image = await d.client.inspectImage('redis');
    const bytes = image.layers.reduce((sum, l) => sum + l.size, 0);
    const cold_s = cold.s;
    const one_file_s = median(s.one_file);
    return {
      cold_s: round(cold_s),
      ...(extract && { kernel_extract_s: Number(extract[1]) }),
      warm_s: round(median(s.warm), 3),
      one_file_s: round(one_file_s),
      one_file_ratio: round(one_file_s / cold_s, 3),
      image_mib: round(bytes / (1 << 20), 1),
    };
  } finally {
    await d.stop();
    rmSync(ctx, { recursive: true, force: true });
  }
}
