// A pull cut off resumes on the next pull: against the real CunikHub and Debian's docker-registry,
// behind a proxy that cuts or stalls the big layer's answers. The first pull loses its connection
// past the retries, the second is cancelled (its client gone) while stalled, the third finishes:
// each later one asks only for the rest (Range, answered 206 by the registry itself), nothing is
// visible as an image before the last, and nothing is left behind after it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/store.js';
import { pull, push } from '../../src/images/distribution.js';
import { BLOB_RETRIES } from '../../src/images/blob-download.js';
import { helloKernel } from '../helpers/daemon.js';
import { startHub } from '../helpers/hub.js';
import { countingProxy, startDockerRegistry, type ProxyShape } from '../helpers/registry.js';
import { tempDir } from '../unit/images-fixtures.js';

const opts = { timeout: 120_000 };
const t = tempDir('cunik-resume-');
after(() => t.cleanup());
const MiB = 1024 * 1024;
let n = 0;
const freshStore = (): ImageStore => new ImageStore(join(t.path, `s${n++}`), { knownFamilies: ['generic'] });
const list = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

async function resumeAgainst(host: string): Promise<void> {
  // An image whose kernel layer is 8 MiB (the test kernel with random bytes after it).
  const kernel = join(t.path, `kernel-${n}`);
  writeFileSync(kernel, Buffer.concat([readFileSync(helloKernel), randomBytes(8 * MiB)]));
  const a = freshStore();
  const ref = `${host}/resume/big:1`;
  const src = await a.importKernel(kernel, ref, { family: 'generic', args: ['hello'], memoryMiB: 32 });
  await push(a, ref);
  const big = a.pushSource(ref);
  const layer = [...big.blobs].sort((x, y) => y.size - x.size)[0]!;
  big.release();
  assert.ok(layer.size > 8 * MiB);

  let shape: ProxyShape | undefined = { cutAfter: MiB };
  const proxy = await countingProxy(host, undefined, (req) => (req.method === 'GET' && req.url!.endsWith(`/blobs/${layer.digest}`) ? shape : undefined));
  const layerGets = () => proxy.log.filter((l) => l.method === 'GET' && l.path.endsWith(`/blobs/${layer.digest}`));
  const b = freshStore();
  const pref = `${proxy.host}/resume/big:1`;
  const kept = join(b.dir, 'partial', layer.digest.slice(7));
  const nothingVisible = (): void => {
    assert.deepEqual(b.list(), []);
    assert.deepEqual(list(join(b.dir, 'blobs', 'sha256')), []);
    assert.deepEqual(list(join(b.dir, 'tmp')), []);
  };
  try {
    // 1. Every answer of the layer cut after 1 MiB: the pull gives up, its bytes are kept.
    await assert.rejects(pull(b, pref), /: pull .*: blob sha256:[a-f0-9]{64} from .*: the download failed after it started \([^)]+\); no image was stored, the bytes so far are kept: the next pull resumes them$/);
    nothingVisible();
    assert.equal(layerGets().length, BLOB_RETRIES + 1);
    const first = statSync(kept).size;
    assert.equal(first, (BLOB_RETRIES + 1) * MiB, 'each retry resumed and added its MiB');

    // 2. The registry goes quiet after 1 MiB and the pull is cancelled (its client went away).
    shape = { stallAfter: MiB };
    const ac = new AbortController();
    const before = layerGets().length;
    await assert.rejects(pull(b, pref, { signal: ac.signal, onProgress: (p) => void (p.status === 'Downloading' && p.current! > first && ac.abort()) }), /the pull was cancelled after \d+ bytes/);
    nothingVisible();
    const second = layerGets().slice(before);
    assert.equal(second.length, 1);
    assert.equal(second[0]!.range, `bytes=${first}-`, 'the next pull asked only for the rest');
    assert.equal(second[0]!.status, 206, 'and the registry answered with a range');
    const secondKept = statSync(kept).size;
    assert.ok(secondKept > first, `${secondKept} > ${first}`);

    // 3. Unhindered: resumed from what the cancelled pull kept, then the whole image, same digests.
    shape = undefined;
    const got = await pull(b, pref);
    const third = layerGets().slice(before + 1);
    assert.deepEqual(third.map((l) => [l.range, l.status]), [[`bytes=${secondKept}-`, 206]]);
    assert.equal(got.digest, src.digest);
    assert.equal(got.id, src.id);
    assert.deepEqual(readFileSync(b.bootArtifacts(got.id).kernel!), readFileSync(kernel));
    assert.deepEqual(list(join(b.dir, 'partial')), [], 'nothing kept once the image is whole');
    assert.deepEqual(list(join(b.dir, 'tmp')), []);
  } finally {
    await proxy.stop();
  }
}

test('a pull cut off (connection lost, then cancelled) resumes on the next pull with Range: CunikHub', opts, async () => {
  const hub = await startHub();
  try {
    await resumeAgainst(hub.host);
  } finally {
    await hub.stop();
  }
});

test('the same against Debian\'s docker-registry', opts, async () => {
  const reg = await startDockerRegistry();
  try {
    await resumeAgainst(reg.host);
  } finally {
    await reg.stop();
  }
});
