// Interop: archives written by `save` are read by skopeo (containers/image), and archives
// written by skopeo are accepted by `load`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createReadStream, createWriteStream, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/store.js';
import { multibootKernel, tempDir } from '../unit/images-fixtures.js';

const run = promisify(execFile);
const skopeoMissing = await run('skopeo', ['--version']).then(() => false, () => true);
const opts = { timeout: 60_000 };
const needSkopeo = (): void => assert.ok(!skopeoMissing, 'skopeo is not installed (setup.sh installs it)');
const FAMILIES = ['generic'];

test('skopeo reads a saved archive and its copies load back', opts, async () => {
  needSkopeo();
  const t = tempDir('cunik-skopeo-');
  try {
    const a = new ImageStore(join(t.path, 'a'), { knownFamilies: FAMILIES });
    const kernel = multibootKernel();
    const d = await a.importKernel(t.file('kernel', kernel), 'demo/hello:1.0', { family: 'generic', args: ['exit=3'], memoryMiB: 32 });
    const archive = join(t.path, 'a.tar');
    await a.save(['demo/hello:1.0'], createWriteStream(archive));

    const { stdout } = await run('skopeo', ['inspect', `oci-archive:${archive}`]);
    const info = JSON.parse(stdout);
    assert.equal(info.Digest, d.digest);
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
    assert.equal(info.Labels['org.cunik.family'], 'generic');
    assert.equal(info.Labels['org.cunik.boot'], 'multiboot');
    assert.equal(info.Labels['org.cunik.args'], '["exit=3"]');
    assert.equal(info.Labels['org.cunik.memory'], '32');
    const raw = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci-archive:${archive}`])).stdout);
    assert.equal(raw.annotations['org.cunik.family'], 'generic');

    // Into an OCI layout directory.
    const dir = join(t.path, 'layout');
    await run('skopeo', ['copy', '--quiet', `oci-archive:${archive}`, `oci:${dir}:copy`]);
    assert.ok(existsSync(join(dir, 'index.json')));

    // Into another archive under a new name; skopeo recompresses the layer (tar+gzip).
    const copied = join(t.path, 'b.tar');
    await run('skopeo', ['copy', '--quiet', `oci-archive:${archive}`, `oci-archive:${copied}:demo/copied:2.0`]);
    const b = new ImageStore(join(t.path, 'b'), { knownFamilies: FAMILIES });
    const loaded = await b.load(createReadStream(copied));
    assert.equal(loaded.length, 1);
    assert.equal(loaded[0]!.id, d.id);
    assert.deepEqual(loaded[0]!.repoTags, ['demo/copied:2.0']);
    const detail = b.inspect('demo/copied:2.0');
    assert.deepEqual(detail.args, ['exit=3']);
    assert.equal(detail.memoryMiB, 32);
    assert.deepEqual(readFileSync(b.bootArtifacts(detail.id).kernel!), kernel);

    // And Cunik's save of the loaded image is again readable by skopeo.
    const again = join(t.path, 'c.tar');
    await b.save(['demo/copied:2.0'], createWriteStream(again));
    const info2 = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${again}`])).stdout);
    assert.equal(info2.Labels['org.cunik.family'], 'generic');
  } finally {
    t.cleanup();
  }
});

test('zstd layers (skopeo --dest-compress-format zstd) and xz, zstd, bzip2 archives load, as docker load takes them', opts, async () => {
  needSkopeo();
  const t = tempDir('cunik-skopeo-zstd-');
  try {
    const a = new ImageStore(join(t.path, 'a'), { knownFamilies: FAMILIES });
    const kernel = multibootKernel();
    const d = await a.importKernel(t.file('kernel', kernel), 'demo/hello:1.0', { family: 'generic', args: ['exit=3'] });
    const archive = join(t.path, 'a.tar');
    await a.save(['demo/hello:1.0'], createWriteStream(archive));
    const zstdLayers = join(t.path, 'zstd.tar');
    await run('skopeo', ['copy', '--quiet', '--dest-compress-format', 'zstd', `oci-archive:${archive}`, `oci-archive:${zstdLayers}:demo/zstd:1`]);
    const raw = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci-archive:${zstdLayers}`])).stdout) as { layers: { mediaType: string }[] };
    assert.ok(raw.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+zstd'), JSON.stringify(raw.layers));
    const b = new ImageStore(join(t.path, 'b'), { knownFamilies: FAMILIES });
    const loaded = await b.load(createReadStream(zstdLayers));
    assert.equal(loaded[0]!.repoTags[0], 'demo/zstd:1');
    assert.deepEqual(readFileSync(b.bootArtifacts(loaded[0]!.id).kernel!), kernel, 'the kernel unpacked from the zstd layer');

    for (const [tool, args] of [['xz', ['-c', '-0']], ['zstd', ['-cq']], ['bzip2', ['-c']]] as const) {
      const packed = join(t.path, `a.tar.${tool}`);
      await run('sh', ['-c', `${tool} ${args.join(' ')} < "$1" > "$2"`, 'sh', archive, packed]);
      const c = new ImageStore(join(t.path, `c-${tool}`), { knownFamilies: FAMILIES });
      const got = await c.load(createReadStream(packed));
      assert.equal(got[0]!.id, d.id, tool);
      // Cut short: refused, and nothing is left in the store.
      const cut = join(t.path, `cut.${tool}`);
      await run('sh', ['-c', `head -c $(( $(stat -c %s "$1") / 2 )) "$1" > "$2"`, 'sh', packed, cut]);
      const e = new ImageStore(join(t.path, `e-${tool}`), { knownFamilies: FAMILIES });
      await assert.rejects(e.load(createReadStream(cut)), new RegExp(`cannot read the image archive: not valid ${tool} data`), tool);
      assert.deepEqual(e.list(), []);
    }
  } finally {
    t.cleanup();
  }
});
