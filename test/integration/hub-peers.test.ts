// CunikHub with real clients: skopeo (containers/image) pushes, pulls, inspects and lists; the
// Docker CLI reads manifests (no daemon needed). Images are OCI layouts of random layers and a
// Cunik image written by `save`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImageStore } from '../../src/images/store.js';
import { multibootKernel } from '../unit/images-fixtures.js';
import { ociLayout, sha256, startHub, storeProblems, type TestHub } from '../helpers/hub.js';

const run = promisify(execFile);
const opts = { timeout: 120_000 };
let hub: TestHub;
before(async () => {
  hub = await startHub();
});
after(async () => hub.stop());

const skopeo = (...args: string[]) => run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 });
// Without --preserve-digests skopeo gzips uncompressed layers on the way to a registry (new digests).
const TLS = ['--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests'];

test('skopeo copies an OCI layout into the hub and back byte for byte; inspect and list-tags', opts, async () => {
  const src = ociLayout(join(hub.dir, 'src'), { tag: 'v1', layerSizes: [300_000, 5_000] });
  await skopeo('copy', '--quiet', ...TLS, `oci:${src.dir}:v1`, `docker://${hub.host}/peers/app:v1`);
  await skopeo('copy', '--quiet', ...TLS, `oci:${src.dir}:v1`, `docker://${hub.host}/peers/app:v2`);
  const info = JSON.parse((await skopeo('inspect', '--tls-verify=false', `docker://${hub.host}/peers/app:v1`)).stdout);
  assert.equal(info.Digest, src.digest);
  assert.equal(info.Architecture, 'amd64');
  assert.equal(info.Labels['org.cunik.family'], 'generic');
  const raw = (await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${hub.host}/peers/app:v2`)).stdout;
  assert.equal(sha256(raw), src.digest);
  const tags = JSON.parse((await skopeo('list-tags', '--tls-verify=false', `docker://${hub.host}/peers/app`)).stdout);
  assert.deepEqual(tags.Tags, ['v1', 'v2']);
  const back = join(hub.dir, 'back');
  await skopeo('copy', '--quiet', ...TLS, `docker://${hub.host}/peers/app:v1`, `oci:${back}:got`);
  const index = JSON.parse(readFileSync(join(back, 'index.json'), 'utf8'));
  assert.equal(index.manifests[0].digest, src.digest);
  for (const l of src.layers) assert.deepEqual(readFileSync(join(back, 'blobs', 'sha256', sha256(l).slice(7))), l);
  // A second repository gets the layers by cross-repository mount: stored once.
  await skopeo('copy', '--quiet', ...TLS, `docker://${hub.host}/peers/app:v1`, `docker://${hub.host}/peers/other:v1`);
  assert.deepEqual(storeProblems(hub.root), []);
});

test('skopeo pushes Docker media types (docker-archive) and copies a Cunik image written by save', opts, async () => {
  const src = ociLayout(join(hub.dir, 'docker-src'), { tag: 'd', layerSizes: [10_000] });
  const archive = join(hub.dir, 'd.tar');
  await skopeo('copy', '--quiet', `oci:${src.dir}:d`, `docker-archive:${archive}:peers/docker:d`);
  await skopeo('copy', '--quiet', ...TLS, `docker-archive:${archive}`, `docker://${hub.host}/peers/docker:d`);
  const raw = JSON.parse((await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${hub.host}/peers/docker:d`)).stdout);
  assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  const got = await fetch(`${hub.url}/v2/peers/docker/manifests/d`);
  assert.equal(got.headers.get('content-type'), 'application/vnd.docker.distribution.manifest.v2+json');
  await got.body?.cancel();

  const store = new ImageStore(join(hub.dir, 'cunik'), { knownFamilies: ['generic'] });
  const kernelFile = join(hub.dir, 'kernel');
  writeFileSync(kernelFile, multibootKernel());
  const d = await store.importKernel(kernelFile, 'demo/hello:1.0', { family: 'generic', args: ['exit=3'], memoryMiB: 32 });
  const saved = join(hub.dir, 'hello.tar');
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(saved);
    out.on('finish', resolve).on('error', reject);
    void store.save(['demo/hello:1.0'], out);
  });
  await skopeo('copy', '--quiet', ...TLS, `oci-archive:${saved}`, `docker://${hub.host}/demo/hello:1.0`);
  const info = JSON.parse((await skopeo('inspect', '--tls-verify=false', `docker://${hub.host}/demo/hello:1.0`)).stdout);
  assert.equal(info.Digest, d.digest);
  assert.equal(info.Labels['org.cunik.boot'], 'multiboot');
});

test('skopeo copy --all of an index: every platform manifest and the index itself', opts, async () => {
  const dir = join(hub.dir, 'multi');
  const a = ociLayout(dir, { tag: 'a', layerSizes: [1000] });
  const b = ociLayout(dir, { tag: 'b', layerSizes: [2000] });
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: a.digest, size: a.manifest.length, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: b.digest, size: b.manifest.length, platform: { architecture: 'arm64', os: 'linux' } },
    ],
  }));
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs', 'sha256', sha256(index).slice(7)), index);
  const layout = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  layout.manifests.push({ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(index), size: index.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } });
  writeFileSync(join(dir, 'index.json'), JSON.stringify(layout));
  await skopeo('copy', '--quiet', '--all', ...TLS, `oci:${dir}:multi`, `docker://${hub.host}/peers/multi:latest`);
  const raw = (await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${hub.host}/peers/multi:latest`)).stdout;
  assert.equal(sha256(raw), sha256(index));
  for (const m of [a, b]) {
    const r = await fetch(`${hub.url}/v2/peers/multi/manifests/${m.digest}`, { method: 'HEAD' });
    assert.equal(r.status, 200);
  }
  const back = join(hub.dir, 'multi-back');
  await skopeo('copy', '--quiet', '--all', ...TLS, `docker://${hub.host}/peers/multi:latest`, `oci:${back}:m`);
  assert.deepEqual(readFileSync(join(back, 'blobs', 'sha256', sha256(index).slice(7))), index);
});

test('docker manifest inspect --insecure reads from the hub (no Docker daemon)', opts, async () => {
  const src = ociLayout(join(hub.dir, 'for-docker'), { tag: 't', layerSizes: [100] });
  await skopeo('copy', '--quiet', ...TLS, `oci:${src.dir}:t`, `docker://${hub.host}/peers/dockercli:t`);
  const env = { ...process.env, DOCKER_CONFIG: join(hub.dir, 'docker-config') };
  const { stdout } = await run('docker', ['manifest', 'inspect', '--insecure', `${hub.host}/peers/dockercli:t`], { env });
  const m = JSON.parse(stdout);
  assert.equal(m.layers[0].digest, sha256(src.layers[0]!));
  const v = await run('docker', ['manifest', 'inspect', '--insecure', '-v', `${hub.host}/peers/dockercli:t`], { env });
  assert.equal(JSON.parse(v.stdout).Descriptor.digest, src.digest);
});
