// The client of `cunik pull` killed mid-blob: the daemon cancels the pull, keeps the bytes, and
// the next `cunik pull` asks the real CunikHub only for the rest (Range, 206). Nothing is visible
// as an image in between; nothing is kept after.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/store.js';
import { push } from '../../src/images/distribution.js';
import { cli, cunikBin, helloKernel, startDaemon, waitFor } from '../helpers/daemon.js';
import { startHub } from '../helpers/hub.js';
import { countingProxy, type ProxyShape } from '../helpers/registry.js';

const opts = { timeout: 180_000 };
const home = mkdtempSync(join(tmpdir(), 'cunik-pull-resume-'));
after(() => rmSync(home, { recursive: true, force: true }));
const env = { CUNIK_CONFIG: join(home, 'cunik.json'), DOCKER_CONFIG: join(home, 'docker') };
const MiB = 1024 * 1024;

test('cunik pull killed mid-layer: the daemon keeps the bytes; the next cunik pull resumes with Range', opts, async () => {
  const hub = await startHub();
  const d = await startDaemon();
  let shape: ProxyShape | undefined = { stallAfter: 2 * MiB };
  let proxy: Awaited<ReturnType<typeof countingProxy>> | undefined;
  try {
    const kernel = join(home, 'kernel');
    writeFileSync(kernel, Buffer.concat([readFileSync(helloKernel), randomBytes(8 * MiB)]));
    const a = new ImageStore(join(home, 'client'), { knownFamilies: ['generic'] });
    const ref = `${hub.host}/resume/big:1`;
    const src = await a.importKernel(kernel, ref, { family: 'generic', args: ['hello'], memoryMiB: 32 });
    await push(a, ref);
    const ps = a.pushSource(ref);
    const layer = [...ps.blobs].sort((x, y) => y.size - x.size)[0]!;
    ps.release();
    proxy = await countingProxy(hub.host, undefined, (req) => (req.method === 'GET' && req.url!.endsWith(`/blobs/${layer.digest}`) ? shape : undefined));
    const layerGets = () => proxy!.log.filter((l) => l.method === 'GET' && l.path.endsWith(`/blobs/${layer.digest}`));
    const pref = `${proxy.host}/resume/big:1`;
    const partialDir = join(d.root, 'images', 'partial');
    const kept = join(partialDir, layer.digest.slice(7));

    const client = spawn(cunikBin, ['-H', `unix://${d.socket}`, 'pull', pref], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    client.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<void>((r) => client.once('exit', () => r()));
    // The layer is stalled after 2 MiB: the daemon is writing its .part file (renamed as it goes: a
    // file listed may be gone by its stat).
    await waitFor('the layer being downloaded', () => layerGets().length === 1 && existsSync(partialDir) && readdirSync(partialDir).some((f) => f.endsWith('.part') && (statSync(join(partialDir, f), { throwIfNoEntry: false })?.size ?? 0) > 0) || undefined, 60_000);
    client.kill('SIGKILL');
    await exited;
    const keptSize = await waitFor('the cancelled pull\'s bytes kept', () => (existsSync(kept) ? statSync(kept).size : undefined), 30_000);
    assert.ok(keptSize > 0 && keptSize <= 2 * MiB, `${keptSize} bytes kept`);
    assert.deepEqual((await d.client.listImages()).filter((i) => i.repoTags.includes(pref)), [], 'nothing visible as an image');

    shape = undefined;
    const r = await cli(['pull', pref], { socket: d.socket, env });
    assert.equal(r.code, 0, `${r.stderr}\n${out}`);
    assert.deepEqual(layerGets().slice(1).map((l) => [l.range, l.status]), [[`bytes=${keptSize}-`, 206]], 'only the rest was asked for');
    const img = (await d.client.listImages()).find((i) => i.repoTags.includes(pref));
    assert.equal(img?.id, src.id);
    assert.deepEqual(readdirSync(partialDir), [], 'nothing kept once the image is whole');
  } finally {
    await proxy?.stop();
    await d.stop();
    await hub.stop();
  }
});
