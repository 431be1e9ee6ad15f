// Hostile layers through pull: images whose layer tar names an entry with "..", puts the boot
// file under a symlink pointing out of the root, or hard-links it to a host file, served by a real
// CunikHub (which stores any bytes). Each pull is refused in one line naming the entry; nothing is
// stored, nothing is left in the store's tmp/, and nothing is written outside the store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { ImageStore } from '../../src/images/store.js';
import { pull } from '../../src/images/distribution.js';
import { helloKernel } from '../helpers/daemon.js';
import { startHub, type TestHub } from '../helpers/hub.js';
import { tempDir } from '../unit/images-fixtures.js';

const opts = { timeout: 60_000 };
const t = tempDir('cunik-distrib-layers-');
let hub: TestHub;
let n = 0;
const freshStore = (): ImageStore => new ImageStore(join(t.path, `s${n++}`), { knownFamilies: ['generic'] });
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

before(async () => {
  hub = await startHub();
});
after(async () => {
  await hub.stop();
  t.cleanup();
});

type Entry = { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string; body?: Buffer };

function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<Buffer>((resolve) => p.on('end', () => resolve(Buffer.concat(chunks))));
  for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', ...(e.linkname !== undefined && { linkname: e.linkname }), mode: 0o755 }, e.body ?? Buffer.alloc(0));
  p.finalize();
  return done;
}

async function putBlob(repo: string, bytes: Buffer): Promise<string> {
  const digest = sha(bytes);
  const r = await fetch(`${hub.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(bytes) });
  assert.equal(r.status, 201, await r.text());
  return digest;
}

/** A real Cunik image's config and manifest with its one layer replaced by `layer`, pushed as REPO:1. */
async function pushWithLayer(repo: string, layer: Buffer): Promise<void> {
  const store = freshStore();
  await store.importKernel(helloKernel, 'src/hello:1', { family: 'generic', args: [], memoryMiB: 32 });
  const src = store.pushSource('src/hello:1');
  const manifest = JSON.parse(src.manifest.toString('utf8'));
  const config = JSON.parse(readFileSync(src.blobs.find((b) => b.digest === manifest.config.digest)!.path, 'utf8'));
  src.release();
  config.rootfs.diff_ids = [sha(layer)];
  const configBytes = Buffer.from(JSON.stringify(config));
  manifest.config = { ...manifest.config, digest: await putBlob(repo, configBytes), size: configBytes.length };
  manifest.layers = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await putBlob(repo, layer), size: layer.length }];
  const body = JSON.stringify(manifest);
  const r = await fetch(`${hub.url}/v2/${repo}/manifests/1`, { method: 'PUT', headers: { 'content-type': manifest.mediaType }, body });
  assert.equal(r.status, 201, await r.text());
}

const kernel = readFileSync(helloKernel);
const outside = join(t.path, 'outside');
const cases: [string, Entry[], RegExp][] = [
  ['dotdot', [{ name: '../../escaped', body: Buffer.from('x') }, { name: 'cunik/kernel', body: kernel }], /entry "\.\.\/\.\.\/escaped" points outside the archive \(\.\.\)/],
  ['dotdot-kernel', [{ name: 'cunik/../../../cunik/kernel', body: kernel }], /entry "cunik\/\.\.\/\.\.\/\.\.\/cunik\/kernel" points outside the archive/],
  ['symlink', [{ name: 'cunik', type: 'symlink', linkname: outside }, { name: 'cunik/kernel', body: kernel }], /entry "cunik\/kernel" is under the symlink "cunik"/],
  ['hardlink', [{ name: 'cunik/kernel', type: 'link', linkname: '../../../etc/passwd' }], /entry "\.\.\/\.\.\/\.\.\/etc\/passwd" points outside the archive \(hard link to "\.\.\/\.\.\/\.\.\/etc\/passwd"\)/],
];

for (const [name, entries, why] of cases) {
  test(`pull refuses a layer with ${name}: one line naming the entry, nothing stored or written outside`, opts, async () => {
    const repo = `evil/${name}`;
    await pushWithLayer(repo, await tarOf(entries));
    const b = freshStore();
    await assert.rejects(pull(b, `${hub.host}/${repo}:1`), (err: Error) => {
      assert.match(err.message, new RegExp(`^pull ${hub.host}/${repo}:1: layer sha256:[a-f0-9]{64}: ${why.source}`));
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    assert.deepEqual(b.list(), []);
    assert.deepEqual(readdirSync(join(b.dir, 'tmp')), []);
    assert.equal(existsSync(outside), false);
    assert.equal(existsSync(join(t.path, 'escaped')), false);
    assert.equal(existsSync(join(b.dir, '..', 'escaped')), false);
  });
}
