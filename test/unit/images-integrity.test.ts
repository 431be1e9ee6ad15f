// Store corruption is noticed: blobs are verified when exported (while streamed), manifests and
// configs when the store opens, everything by check(); damaged images are reported by name, kept
// until check --repair, and never exported under a digest their content does not have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ImageStore } from '../../src/images/store.js';
import { CunikError } from '../../src/errors.js';
import { multibootKernel, tempDir } from './images-fixtures.js';

const FAMILIES = ['generic'];

async function fixture() {
  const t = tempDir();
  const root = join(t.path, 'root');
  const problems: string[] = [];
  const open = () => new ImageStore(root, { knownFamilies: FAMILIES, onProblem: (l) => problems.push(l) });
  const store = open();
  const img = await store.importKernel(t.file('k', multibootKernel(64 << 10)), 'hello', { family: 'generic' });
  const blob = (d: string) => join(root, 'images', 'blobs', 'sha256', d.slice(7));
  return { t, root, store, img, blob, open, problems };
}

/** Flip one byte in the middle of a file (same size). */
function flip(path: string): void {
  const buf = readFileSync(path);
  const i = buf.length >> 1;
  buf[i] = buf[i]! ^ 0xff;
  writeFileSync(path, buf);
}

async function drain(store: ImageStore, refs: string[]): Promise<{ bytes: number; err?: unknown }> {
  const out = new PassThrough();
  let bytes = 0;
  out.on('data', (c: Buffer) => (bytes += c.length));
  try {
    await store.save(refs, out);
    return { bytes };
  } catch (err) {
    return { bytes, err };
  }
}

test('save: a layer blob with a flipped byte fails the export in one line naming the image, and the image is refused afterwards', async () => {
  const { t, store, img, blob, problems } = await fixture();
  try {
    const layer = img.layers[0]!.digest;
    flip(blob(layer));
    const r = await drain(store, ['hello']);
    assert.ok(r.err instanceof CunikError, `save must fail, got ${String(r.err)}`);
    assert.equal(r.err.code, 'CONFLICT');
    assert.match(r.err.message, new RegExp(`^image hello:latest is damaged: blob ${layer} is corrupt`));
    assert.doesNotMatch(r.err.message, /\n/);
    assert.deepEqual(problems, [r.err.message], 'reported once to the daemon log');
    // Known now: refused before a byte is read, for export and for boot alike.
    assert.throws(() => store.usable('hello'), /image hello:latest is damaged/);
    assert.throws(() => store.bootArtifacts(img.id), /image hello:latest is damaged/);
    const again = await drain(store, ['hello']);
    assert.equal(again.bytes, 0);
    assert.match(String(again.err), /is damaged/);
  } finally {
    t.cleanup();
  }
});

test('open: a corrupt config blob is reported naming the image, its blobs are kept, check reports and --repair drops it', async () => {
  const { t, img, blob, open } = await fixture();
  try {
    flip(blob(img.id));
    const s2 = open();
    assert.equal(s2.list().length, 0);
    assert.equal(s2.warnings.length, 1);
    assert.match(s2.warnings[0]!, new RegExp(`^image hello:latest cannot be used: its config ${img.id} is corrupt`));
    for (const d of [img.digest, img.id, img.layers[0]!.digest]) assert.ok(existsSync(blob(d)), `blob ${d} is kept`);

    const found = await s2.check(false);
    assert.equal(found.blobs, 4, 'manifest, config, the boot files\' layer, the boot.json layer');
    assert.deepEqual(found.problems.map((p) => [p.kind, p.subject, p.repaired]), [['blob', img.id, false], ['image', 'hello:latest', false]]);
    // A reopened store still knows the image (nothing was swept).
    assert.equal(open().warnings.length, 1);

    const fixed = await s2.check(true);
    assert.ok(fixed.problems.every((p) => p.repaired));
    assert.deepEqual(readdirSync(join(t.path, 'root', 'images', 'blobs', 'sha256')), []);
    assert.deepEqual((await s2.check(false)).problems, []);
    assert.deepEqual(open().warnings, []);
  } finally {
    t.cleanup();
  }
});

test('check hashes every blob: a flipped layer byte is found without a save, and --repair removes the image using it', async () => {
  const { t, store, img, blob } = await fixture();
  try {
    assert.deepEqual((await store.check(false)).problems, []);
    flip(blob(img.layers[0]!.digest));
    const found = await store.check(false);
    assert.equal(found.problems.length, 1);
    assert.match(found.problems[0]!.problem, /is corrupt .*used by image hello:latest/);
    assert.equal(store.list().length, 1, 'check alone changes nothing');
    await store.check(true);
    assert.equal(store.list().length, 0);
    assert.ok(!existsSync(blob(img.layers[0]!.digest)));
  } finally {
    t.cleanup();
  }
});

test('open: a damaged index is set aside, never taken as "no images": nothing is swept and the images come back untagged', async () => {
  const { t, root, img, open } = await fixture();
  try {
    writeFileSync(join(root, 'images', 'repositories.json'), '{"version":1,"images":5}');
    const s2 = open();
    assert.equal(s2.warnings.length, 1);
    assert.match(s2.warnings[0]!, /^the image index is damaged .*moved to .*quarantine.*1 image\(s\) recovered/);
    assert.deepEqual(s2.list().map((i) => [i.id, i.repoTags]), [[img.id, []]]);
    assert.equal(readdirSync(join(root, 'quarantine', 'images')).length, 1);
  } finally {
    t.cleanup();
  }
});
