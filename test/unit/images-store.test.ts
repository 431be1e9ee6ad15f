import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { ImageStore, type ImageEvent } from '../../src/images/store.js';
import { CunikError } from '../../src/errors.js';
import { ImageIndexState, type ImageRecord } from '../../src/images/state.js';
import { buildElf, bzImage, garbage, mbrDisk, multibootKernel, pvhKernel, tempDir, type TempDir } from './images-fixtures.js';

const FAMILIES = ['generic', 'unikraft', 'linux', 'nanos'];

function setup(): { t: TempDir; store: ImageStore; events: ImageEvent[]; reopen: () => ImageStore } {
  const t = tempDir();
  const events: ImageEvent[] = [];
  const open = () => new ImageStore(join(t.path, 'root'), { knownFamilies: FAMILIES, onEvent: (e) => events.push(e) });
  return { t, store: open(), events, reopen: open };
}

/** Every file under dir, relative, for before/after comparisons. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p, `${rel}${name}/`);
      else out.push(`${rel}${name}`);
    }
  };
  walk(dir, '');
  return out.sort();
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function assertCunikError(code: string, re: RegExp, field?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof CunikError, `expected CunikError, got ${err}`);
    assert.equal(err.code, code);
    assert.match(err.message, re);
    if (field !== undefined) assert.equal(err.field, field);
    return true;
  };
}

test('importKernel stores an OCI image and unpacks a read-only kernel', async () => {
  const { t, store, events } = setup();
  try {
    const kernel = multibootKernel();
    const d = await store.importKernel(t.file('k', kernel), 'hello', { family: 'generic', args: ['exit=3', 'a b'], memoryMiB: 32, cpus: 2 });
    assert.match(d.id, /^sha256:[a-f0-9]{64}$/);
    assert.match(d.digest, /^sha256:[a-f0-9]{64}$/);
    assert.deepEqual(d.repoTags, ['hello:latest']);
    assert.equal(d.family, 'generic');
    assert.equal(d.boot, 'multiboot');
    assert.deepEqual(d.args, ['exit=3', 'a b']);
    assert.equal(d.memoryMiB, 32);
    assert.equal(d.cpus, 2);
    assert.equal(d.architecture, 'amd64');
    assert.equal(d.os, 'linux');
    assert.equal(d.labels['org.cunik.family'], 'generic');
    assert.equal(d.labels['org.cunik.boot'], 'multiboot');
    assert.equal(d.labels['org.cunik.args'], '["exit=3","a b"]');
    assert.equal(d.labels['org.cunik.memory'], '32');
    assert.equal(d.labels['org.cunik.cpus'], '2');
    assert.equal(d.layers.length, 2, 'the boot files, then cunik/boot.json');
    assert.equal(d.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar');
    assert.equal(d.layers[1]!.mediaType, 'application/vnd.oci.image.layer.v1.tar');

    const root = join(t.path, 'root', 'images');
    const blob = (digest: string) => readFileSync(join(root, 'blobs', 'sha256', digest.slice(7)));
    const manifestBuf = blob(d.digest);
    assert.equal(sha(manifestBuf), d.digest);
    const manifest = JSON.parse(manifestBuf.toString());
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.config.digest, d.id);
    assert.equal(manifest.annotations['org.cunik.family'], 'generic');
    assert.equal(manifest.annotations['org.cunik.boot'], 'multiboot');
    const config = JSON.parse(blob(d.id).toString());
    assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [d.layers[0]!.digest, d.layers[1]!.digest] });
    assert.equal(config.config.Labels['org.cunik.args'], '["exit=3","a b"]');
    assert.ok(Array.isArray(config.history) && config.history.length === 2);
    const layer = blob(d.layers[0]!.digest);
    assert.equal(sha(layer), d.layers[0]!.digest);
    assert.equal(layer.toString('latin1', 512, 512 + 12), 'cunik/kernel'); // second tar header
    // cunik/boot.json: the same facts as the labels, for a runtime that sees only the root filesystem.
    const bootLayer = blob(d.layers[1]!.digest);
    assert.equal(bootLayer.toString('latin1', 512, 512 + 15), 'cunik/boot.json');
    const bootSize = parseInt(bootLayer.toString('latin1', 512 + 124, 512 + 135), 8);
    const bootDoc = JSON.parse(bootLayer.toString('utf8', 1024, 1024 + bootSize));
    const own = Object.fromEntries(Object.entries(config.config.Labels as Record<string, string>).filter(([k]) => k.startsWith('org.cunik.')));
    assert.deepEqual(bootDoc, { version: 1, labels: own, env: [], kernel: 'cunik/kernel' });
    assert.equal(d.size, manifestBuf.length + blob(d.id).length + layer.length + bootLayer.length);

    const art = store.bootArtifacts(d.id);
    assert.equal(art.kernel, join(root, 'unpacked', d.digest.slice(7), 'kernel'));
    assert.deepEqual(readFileSync(art.kernel!), kernel);
    assert.equal(statSync(art.kernel!).mode & 0o777, 0o400, "read-only, the daemon's alone");

    const refs = JSON.parse(readFileSync(join(root, 'repositories.json'), 'utf8'));
    assert.deepEqual(refs.references, { 'hello:latest': d.digest });
    assert.deepEqual(events, [{ action: 'import', id: d.id, ref: 'hello:latest' }]);
    assert.deepEqual(readdirSync(join(root, 'tmp')), []);
  } finally {
    t.cleanup();
  }
});

test('bootInfo returns the family adapter shape', async () => {
  const { t, store } = setup();
  try {
    const d = await store.importKernel(t.file('k', pvhKernel()), 'pvh:1', { family: 'unikraft' });
    const info = store.bootInfo('pvh:1');
    assert.deepEqual(Object.keys(info).sort(), ['args', 'boot', 'cpus', 'env', 'family', 'kernelPath', 'labels', 'memoryMiB', 'name']);
    assert.equal(info.family, 'unikraft');
    assert.equal(info.boot, 'pvh');
    assert.deepEqual(info.args, []);
    assert.deepEqual(info.env, []);
    assert.equal(info.memoryMiB, 64);
    assert.equal(info.cpus, 1);
    assert.equal(info.kernelPath, store.bootArtifacts(d.id).kernel);

    const lin = await store.importKernel(t.file('bz', bzImage()), 'linux', { family: 'linux' });
    assert.equal(lin.boot, 'linux');
    assert.equal(lin.memoryMiB, 256);
    const disk = await store.importKernel(t.file('disk', mbrDisk()), 'disk', { family: 'nanos' });
    assert.equal(disk.boot, 'disk');
    const a = store.bootArtifacts('disk');
    assert.equal(a.disk, a.kernel);
    assert.equal(store.bootInfo('disk').diskPath, a.kernel);
  } finally {
    t.cleanup();
  }
});

test('import refuses bad input and leaves the store unchanged', async () => {
  const { t, store, events } = setup();
  try {
    await store.importKernel(t.file('ok', multibootKernel()), 'keep', { family: 'generic' });
    const root = join(t.path, 'root', 'images');
    const before = tree(root);
    const refsBefore = readFileSync(join(root, 'repositories.json'), 'utf8');
    const cases: [() => Promise<unknown>, string, RegExp, string?][] = [
      [() => store.importKernel(t.file('g', garbage()), 'x', { family: 'generic' }), 'INVALID_ARGUMENT', /^not a bootable kernel: not an ELF file, no Linux boot header, no MBR and no qcow2 header$/, 'kernel'],
      [() => store.importKernel(t.file('e64', buildElf({ is64: true })), 'x', { family: 'generic' }), 'INVALID_ARGUMENT', /64-bit ELF without a PVH note/],
      [() => store.importKernel(t.file('empty', Buffer.alloc(0)), 'x', { family: 'generic' }), 'INVALID_ARGUMENT', /file is empty/],
      [() => store.importKernel(t.file('k1', multibootKernel()), 'x', { family: 'bogus' }), 'INVALID_ARGUMENT', /^unknown family: bogus \(known: generic, unikraft, linux, nanos\)$/, 'family'],
      [() => store.importKernel(t.file('k2', multibootKernel()), 'Bad/Name', { family: 'generic' }), 'INVALID_ARGUMENT', /^invalid reference format: /, 'ref'],
      [() => store.importKernel(t.file('k3', multibootKernel()), 'x', { family: 'generic', memoryMiB: 0 }), 'INVALID_ARGUMENT', /memoryMiB must be an integer/, 'memoryMiB'],
      [() => store.importKernel(t.file('k4', multibootKernel()), 'x', { family: 'generic', cpus: 1.5 }), 'INVALID_ARGUMENT', /cpus must be an integer/, 'cpus'],
      [() => store.importKernel(join(t.path, 'missing'), 'x', { family: 'generic' }), 'INVALID_ARGUMENT', /cannot read kernel file .*ENOENT/, 'file'],
      [() => store.importKernel(t.path, 'x', { family: 'generic' }), 'INVALID_ARGUMENT', /not a regular file/, 'file'],
    ];
    for (const [run, code, re, field] of cases) {
      await assert.rejects(run(), assertCunikError(code, re, field));
    }
    assert.deepEqual(tree(root), before);
    assert.equal(readFileSync(join(root, 'repositories.json'), 'utf8'), refsBefore);
    assert.equal(store.list().length, 1);
    assert.equal(events.length, 1);
  } finally {
    t.cleanup();
  }
});

test('inspect resolves names, ids, digests and unique id prefixes', async () => {
  const { t, store } = setup();
  try {
    const a = await store.importKernel(t.file('a', multibootKernel()), 'app:1', { family: 'generic' });
    const hex = a.id.slice(7);
    for (const q of ['app:1', a.id, hex, hex.slice(0, 4), hex.slice(0, 12), `sha256:${hex.slice(0, 8)}`, a.digest, `app@${a.digest}`]) {
      assert.equal(store.inspect(q).id, a.id, q);
    }
    assert.throws(() => store.inspect('app'), assertCunikError('NOT_FOUND', /^no such image: app$/));
    assert.throws(() => store.inspect('nope:1'), assertCunikError('NOT_FOUND', /^no such image: nope:1$/));
    assert.throws(() => store.inspect(hex.slice(0, 3)), assertCunikError('NOT_FOUND', /no such image/));
    assert.throws(() => store.inspect(`other@${a.digest}`), assertCunikError('NOT_FOUND', /no such image/));
    assert.throws(() => store.inspect('UPPER'), assertCunikError('INVALID_ARGUMENT', /invalid reference format/));

  } finally {
    t.cleanup();
  }
});

test('an id prefix shared by two images is ambiguous', () => {
  const state = new ImageIndexState();
  const rec = (idHex: string, mHex: string) => ({ id: `sha256:${idHex}`, digest: `sha256:${mHex}` }) as unknown as ImageRecord;
  state.addImage(rec(`abcd1${'0'.repeat(59)}`, '1'.repeat(64)));
  state.addImage(rec(`abcd2${'0'.repeat(59)}`, '2'.repeat(64)));
  assert.throws(() => state.resolve('abcd'), assertCunikError('INVALID_ARGUMENT', /^ambiguous image id prefix: abcd$/));
  assert.throws(() => state.resolve('sha256:abcd'), assertCunikError('INVALID_ARGUMENT', /^ambiguous image id prefix: sha256:abcd$/));
  assert.equal(state.resolve('abcd2').record.digest, `sha256:${'2'.repeat(64)}`);
  // A name wins over an id prefix, as in Docker.
  state.setRef('abcd:latest', `sha256:${'1'.repeat(64)}`);
  assert.deepEqual(state.resolve('abcd'), { record: state.byDigest(`sha256:${'1'.repeat(64)}`), via: 'ref', ref: 'abcd:latest' });
});

test('tag, untag and delete follow Docker', async () => {
  const { t, store, events, reopen } = setup();
  try {
    const inUse = new Set<string>();
    const opts = (force = false) => ({ force, inUse: (id: string) => inUse.has(id) });
    const a = await store.importKernel(t.file('a', multibootKernel()), 'app', { family: 'generic' });
    assert.equal(store.tag('app', 'app:v1'), 'app:v1');
    assert.equal(store.tag(a.id.slice(7, 15), 'registry.local:5000/team/app:v2'), 'registry.local:5000/team/app:v2');
    assert.deepEqual(store.inspect('app').repoTags, ['app:latest', 'app:v1', 'registry.local:5000/team/app:v2']);
    assert.throws(() => store.tag('missing', 'x'), assertCunikError('NOT_FOUND', /no such image: missing/));
    assert.throws(() => store.tag('app', `x@sha256:${'1'.repeat(64)}`), assertCunikError('INVALID_ARGUMENT', /digest cannot/, 'target'));

    // Persisted: a new store on the same root sees the same references.
    assert.deepEqual(reopen().inspect(a.id).repoTags, store.inspect(a.id).repoTags);

    // By id with several tags needs force.
    assert.throws(() => store.remove(a.id, opts()), assertCunikError('CONFLICT',
      new RegExp(`^conflict: unable to delete ${a.id.slice(7, 19)} \\(must be forced\\) - image is referenced in multiple repositories$`)));
    // By tag untags while other tags remain, even while in use.
    inUse.add(a.id);
    assert.deepEqual(store.remove('app:v1', opts()), { untagged: ['app:v1'], deleted: [] });
    assert.deepEqual(store.remove('registry.local:5000/team/app:v2', opts()), { untagged: ['registry.local:5000/team/app:v2'], deleted: [] });
    // The last tag of an image in use is refused without force.
    assert.throws(() => store.remove('app', opts()), assertCunikError('CONFLICT', /^image app is in use by an instance; use -f$/));
    // With force it is untagged but kept (an instance still boots from it).
    assert.deepEqual(store.remove('app', opts(true)), { untagged: ['app:latest'], deleted: [] });
    assert.deepEqual(store.list().map((s) => s.repoTags), [[]]);
    assert.ok(store.bootArtifacts(a.id).kernel);
    // Once unused, deleting by id removes blobs and the unpacked dir.
    inUse.clear();
    assert.deepEqual(store.remove(a.id.slice(7, 11), opts()), { untagged: [], deleted: [a.id] });
    const root = join(t.path, 'root', 'images');
    assert.deepEqual(readdirSync(join(root, 'blobs', 'sha256')), []);
    assert.deepEqual(readdirSync(join(root, 'unpacked')), []);
    assert.deepEqual(store.list(), []);
    assert.throws(() => store.remove('app', opts()), assertCunikError('NOT_FOUND', /no such image: app/));
    assert.deepEqual(events.map((e) => `${e.action} ${e.ref ?? ''}`), [
      'import app:latest', 'tag app:v1', 'tag registry.local:5000/team/app:v2',
      'untag app:v1', 'untag registry.local:5000/team/app:v2', 'untag app:latest', 'delete ',
    ]);
  } finally {
    t.cleanup();
  }
});

test('remove by the last tag deletes; shared layers survive; retag leaves a dangling image; prune', async () => {
  const { t, store } = setup();
  try {
    const no = { force: false, inUse: () => false };
    const kernel = multibootKernel();
    const a = await store.importKernel(t.file('a', kernel), 'a', { family: 'generic' });
    const b = await store.importKernel(t.file('b', kernel), 'b', { family: 'generic', args: ['x'] });
    assert.equal(a.layers[0]!.digest, b.layers[0]!.digest); // same kernel, same layer
    assert.notEqual(a.id, b.id);
    assert.deepEqual(store.remove('a', no), { untagged: ['a:latest'], deleted: [a.id] });
    assert.equal(store.inspect('b').layers[0]!.digest, b.layers[0]!.digest);
    assert.deepEqual(readFileSync(store.bootArtifacts('b').kernel!), kernel);
    const root = join(t.path, 'root', 'images', 'blobs', 'sha256');
    assert.ok(existsSync(join(root, b.layers[0]!.digest.slice(7))));

    // Importing over an existing name leaves the old image dangling, as docker build does.
    const c = await store.importKernel(t.file('c', pvhKernel()), 'b', { family: 'generic' });
    assert.deepEqual(store.inspect(b.id).repoTags, []);
    assert.deepEqual(store.inspect('b').id, c.id);
    assert.deepEqual(store.prune({ inUse: () => false }), { untagged: [], deleted: [b.id] });
    assert.deepEqual(store.list().map((s) => s.id), [c.id]);
  } finally {
    t.cleanup();
  }
});

test('opening a store sweeps leftovers of interrupted work', async () => {
  const { t, store, reopen } = setup();
  try {
    const a = await store.importKernel(t.file('a', multibootKernel()), 'a', { family: 'generic' });
    const root = join(t.path, 'root', 'images');
    mkdirSync(join(root, 'tmp', 'import-dead'), { recursive: true });
    writeFileSync(join(root, 'tmp', 'import-dead', 'blob'), 'x');
    writeFileSync(join(root, 'blobs', 'sha256', 'f'.repeat(64)), 'orphan');
    writeFileSync(join(root, 'blobs', 'sha256', '.tmp-blob-123'), 'half');
    writeFileSync(join(root, '.tmp-repositories.json-abc'), '{');
    mkdirSync(join(root, 'unpacked', 'e'.repeat(64)));
    const s2 = reopen();
    assert.deepEqual(s2.warnings, []);
    assert.equal(s2.inspect('a').id, a.id);
    assert.deepEqual(readdirSync(join(root, 'tmp')), []);
    assert.ok(!existsSync(join(root, 'blobs', 'sha256', 'f'.repeat(64))));
    assert.ok(!existsSync(join(root, 'blobs', 'sha256', '.tmp-blob-123')));
    assert.ok(!existsSync(join(root, '.tmp-repositories.json-abc')));
    assert.deepEqual(readdirSync(join(root, 'unpacked')), [a.digest.slice(7)]);
    assert.equal(readdirSync(join(root, 'blobs', 'sha256')).length, 4);
  } finally {
    t.cleanup();
  }
});
