import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, createWriteStream, createReadStream, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { pack as tarPack, extract as tarExtract } from 'tar-stream';
import { ImageStore, type ImageEvent } from '../../src/images/store.js';
import { CunikError } from '../../src/errors.js';
import { multibootKernel, pvhKernel, garbage, tempDir, type TempDir } from './images-fixtures.js';
import { tarBytes, type LayerEntry } from '../fixtures/build/oci-archive.js';

const FAMILIES = ['generic', 'unikraft'];
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function newStore(t: TempDir, name: string, events?: ImageEvent[], families = FAMILIES): ImageStore {
  return new ImageStore(join(t.path, name), { knownFamilies: families, onEvent: (e) => events?.push(e) });
}

async function saveToBuffer(store: ImageStore, refs: string[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await store.save(refs, out);
  return Buffer.concat(chunks);
}

async function untar(buf: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const ex = tarExtract();
  Readable.from([buf]).pipe(ex);
  for await (const e of ex) {
    const parts: Buffer[] = [];
    for await (const c of e as unknown as AsyncIterable<Buffer>) parts.push(c);
    if (e.header.type === 'file') files.set(e.header.name, Buffer.concat(parts));
  }
  return files;
}

async function tar(files: Map<string, Buffer>): Promise<Buffer> {
  const p = tarPack();
  for (const [name, body] of files) p.entry({ name }, body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

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

const isInvalid = (re: RegExp) => (err: unknown) => {
  assert.ok(err instanceof CunikError, `expected CunikError, got ${err}`);
  assert.equal(err.code, 'INVALID_ARGUMENT');
  assert.match(err.message, re);
  return true;
};

test('save writes an OCI image layout with names in index.json', async () => {
  const t = tempDir();
  try {
    const s = newStore(t, 'a');
    const d = await s.importKernel(t.file('k', multibootKernel()), 'reg.local:5000/demo/hello:1.0', { family: 'generic', args: ['x=1'] });
    const files = await untar(await saveToBuffer(s, ['reg.local:5000/demo/hello:1.0']));
    assert.deepEqual(JSON.parse(files.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.manifests.length, 1);
    const m = index.manifests[0];
    assert.equal(m.digest, d.digest);
    assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(m.annotations, {
      'io.containerd.image.name': 'reg.local:5000/demo/hello:1.0',
      'org.opencontainers.image.ref.name': '1.0',
    });
    const blobs = [...files.keys()].filter((n) => n.startsWith('blobs/sha256/')).sort();
    assert.equal(blobs.length, 4, 'manifest, config, the boot files\' layer, the boot.json layer');
    for (const b of blobs) assert.equal(sha(files.get(b)!), `sha256:${b.slice(13)}`);
    await assert.rejects(s.save([], new PassThrough()), isInvalid(/nothing to save/));
    await assert.rejects(s.save(['nope'], new PassThrough()), (e: unknown) => e instanceof CunikError && e.code === 'NOT_FOUND');
  } finally {
    t.cleanup();
  }
});

test('save → load round trip into a second store', async () => {
  const t = tempDir();
  try {
    const a = newStore(t, 'a');
    const k1 = multibootKernel();
    const k2 = pvhKernel();
    const d1 = await a.importKernel(t.file('k1', k1), 'one:v1', { family: 'generic', args: ['a', 'b c'], memoryMiB: 48, cpus: 2 });
    a.tag('one:v1', 'one:alias');
    const d2 = await a.importKernel(t.file('k2', k2), 'two', { family: 'unikraft' });
    const file = join(t.path, 'out.tar');
    await a.save(['one:v1', 'one:alias', 'two', d2.id], createWriteStream(file));

    const events: ImageEvent[] = [];
    const b = newStore(t, 'b', events);
    const loaded = await b.load(createReadStream(file));
    assert.deepEqual(loaded.map((s) => s.id).sort(), [d1.id, d2.id].sort());
    const i1 = b.inspect('one:v1');
    assert.equal(i1.id, d1.id);
    assert.equal(i1.digest, d1.digest);
    assert.deepEqual(i1.repoTags, ['one:alias', 'one:v1']);
    assert.deepEqual(i1.args, ['a', 'b c']);
    assert.equal(i1.memoryMiB, 48);
    assert.equal(i1.cpus, 2);
    assert.equal(i1.size, d1.size);
    assert.deepEqual(b.inspect('two').repoTags, ['two:latest']);
    assert.deepEqual(readFileSync(b.bootArtifacts('one:v1').kernel!), k1);
    assert.deepEqual(readFileSync(b.bootArtifacts('two').kernel!), k2);
    assert.equal(statSync(b.bootArtifacts('two').kernel!).mode & 0o777, 0o400, "read-only, the daemon's alone");
    assert.deepEqual(b.bootInfo('two').boot, 'pvh');
    assert.deepEqual(events.map((e) => `${e.action} ${e.ref}`).sort(), ['load one:alias', 'load one:v1', 'load two:latest']);

    // Loading the same archive again changes nothing but is fine.
    await b.load(createReadStream(file));
    assert.equal(b.list().length, 2);
    // gzip-compressed archives load too.
    const c = newStore(t, 'c');
    await c.load(Readable.from([gzipSync(readFileSync(file))]));
    assert.equal(c.inspect('one:alias').id, d1.id);
  } finally {
    t.cleanup();
  }
});

test('load refuses bad archives and leaves nothing behind', async () => {
  const t = tempDir();
  try {
    const a = newStore(t, 'a');
    const d = await a.importKernel(t.file('k', multibootKernel()), 'app', { family: 'generic' });
    const good = await saveToBuffer(a, ['app']);
    const files = await untar(good);
    const layerName = `blobs/sha256/${d.layers[0]!.digest.slice(7)}`;
    const configName = `blobs/sha256/${d.id.slice(7)}`;
    const manifestName = `blobs/sha256/${d.digest.slice(7)}`;

    const variant = async (edit: (f: Map<string, Buffer>) => void) => {
      const f = new Map(files);
      edit(f);
      return tar(f);
    };
    /** Re-sign a config: new config blob, new manifest blob, index pointing at it. */
    const withConfig = (f: Map<string, Buffer>, change: (c: any) => void) => {
      const config = JSON.parse(f.get(configName)!.toString());
      change(config);
      const cbuf = Buffer.from(JSON.stringify(config));
      f.delete(configName);
      f.set(`blobs/sha256/${sha(cbuf).slice(7)}`, cbuf);
      const manifest = JSON.parse(f.get(manifestName)!.toString());
      manifest.config = { ...manifest.config, digest: sha(cbuf), size: cbuf.length };
      manifest.annotations = {};
      const mbuf = Buffer.from(JSON.stringify(manifest));
      f.delete(manifestName);
      f.set(`blobs/sha256/${sha(mbuf).slice(7)}`, mbuf);
      const index = JSON.parse(f.get('index.json')!.toString());
      index.manifests[0] = { ...index.manifests[0], digest: sha(mbuf), size: mbuf.length };
      f.set('index.json', Buffer.from(JSON.stringify(index)));
    };

    /** Replace the layer: new layer blob, its diff_id in a new config, a new manifest. */
    const withLayer = async (f: Map<string, Buffer>, entries: LayerEntry[]) => {
      const raw = await tarBytes(entries);
      const manifest = JSON.parse(f.get(manifestName)!.toString());
      const gz = String(manifest.layers[0].mediaType).endsWith('gzip') ? gzipSync(raw) : raw;
      f.delete(layerName);
      f.set(`blobs/sha256/${sha(gz).slice(7)}`, gz);
      manifest.layers[0] = { ...manifest.layers[0], digest: sha(gz), size: gz.length };
      f.set(manifestName, Buffer.from(JSON.stringify(manifest)));
      withConfig(f, (c) => { c.rootfs.diff_ids[0] = sha(raw); });
    };
    const kernelBytes = multibootKernel();
    const layerCase = async (entries: LayerEntry[]) => {
      const f = new Map(files);
      await withLayer(f, entries);
      return tar(f);
    };

    const cases: [string, Buffer | (() => Readable), RegExp][] = [
      ['an entry climbing out', await variant((f) => f.set('../evil', Buffer.from('x'))), /image archive: entry "\.\.\/evil" points outside the archive/],
      ['an absolute entry', await variant((f) => f.set('/etc/evil', Buffer.from('x'))), /image archive: entry "\/etc\/evil" has an absolute path/],
      ['a boot file under a symlink', await layerCase([{ name: 'cunik', type: 'symlink', linkname: '/etc' }, { name: 'cunik/kernel', body: kernelBytes }]), /entry "cunik\/kernel" is under the symlink "cunik"/],
      ['a boot file named through ..', await layerCase([{ name: 'x/../cunik/kernel', body: kernelBytes }]), /entry "x\/\.\.\/cunik\/kernel" points outside the archive/],
      ['a tampered layer', await variant((f) => { const b = Buffer.from(f.get(layerName)!); b.writeUInt8(b.readUInt8(600) ^ 1, 600); f.set(layerName, b); }), /digest mismatch/],
      ['a missing blob', await variant((f) => f.delete(layerName)), /is listed but missing from the archive/],
      ['no index.json', await variant((f) => f.delete('index.json')), /index\.json missing/],
      ['a legacy docker save', await variant((f) => { f.delete('index.json'); f.set('manifest.json', Buffer.from('[]')); }), /legacy docker save/],
      ['a bad layout version', await variant((f) => f.set('oci-layout', Buffer.from('{"imageLayoutVersion":"9"}'))), /unsupported OCI layout version/],
      ['an image without Cunik labels', await variant((f) => withConfig(f, (c) => { c.config.Labels = {}; })), /is not a Cunik image: no org\.cunik\.family label/],
      ['an unknown family', await variant((f) => withConfig(f, (c) => { c.config.Labels['org.cunik.family'] = 'osv'; })), /unknown family: osv \(known: generic, unikraft\)/],
      ['a cunik/boot.json that disagrees with the config', await variant((f) => withConfig(f, (c) => { c.config.Labels['org.cunik.args'] = '["other"]'; })), /cunik\/boot\.json says org\.cunik\.args is .*, its config "\[\\"other\\"\]"/],
      ['a bad boot label', await variant((f) => withConfig(f, (c) => { c.config.Labels['org.cunik.boot'] = 'uefi'; })), /org\.cunik\.boot must be one of/],
      ['a wrong diff_id', await variant((f) => withConfig(f, (c) => { c.rootfs.diff_ids[0] = `sha256:${'0'.repeat(64)}`; })), /does not match the config's diff_id/],
      ['a truncated archive', good.subarray(0, 1500), /cannot read the image archive|missing/],
      ['garbage', garbage(10000), /cannot read the image archive/],
      ['an empty input', Buffer.alloc(0), /empty or not a tar/],
      ['a stream that fails midway', () => {
        const r = new Readable({ read() {} });
        r.push(good.subarray(0, 2048));
        setImmediate(() => r.destroy(new Error('connection reset')));
        return r;
      }, /connection reset/],
    ];
    const events: ImageEvent[] = [];
    const b = newStore(t, 'b', events);
    await b.importKernel(t.file('k2', pvhKernel()), 'existing', { family: 'generic' });
    const root = join(t.path, 'b', 'images');
    const before = tree(root);
    const refs = readFileSync(join(root, 'repositories.json'), 'utf8');
    for (const [name, input, re] of cases) {
      const stream = typeof input === 'function' ? input() : Readable.from([input]);
      await assert.rejects(b.load(stream), isInvalid(re), name);
      assert.deepEqual(tree(root), before, name);
    }
    assert.equal(readFileSync(join(root, 'repositories.json'), 'utf8'), refs);
    assert.equal(events.length, 1);
  } finally {
    t.cleanup();
  }
});

test('remove during a save keeps the blobs until the save is done', async () => {
  const t = tempDir();
  try {
    const s = newStore(t, 'a');
    const d = await s.importKernel(t.file('k', multibootKernel(1 << 20)), 'big', { family: 'generic' });
    const out = new PassThrough({ highWaterMark: 1024 });
    const chunks: Buffer[] = [];
    const saving = s.save(['big'], out);
    await new Promise((r) => setTimeout(r, 20)); // the save is now blocked on back-pressure
    assert.deepEqual(s.remove('big', { force: false, inUse: () => false }).deleted, [d.id]);
    const blobDir = join(t.path, 'a', 'images', 'blobs', 'sha256');
    assert.ok(readdirSync(blobDir).length > 0);
    out.on('data', (c: Buffer) => chunks.push(c));
    await saving;
    assert.deepEqual(readdirSync(blobDir), []);
    const b = newStore(t, 'b');
    await b.load(Readable.from([Buffer.concat(chunks)]));
    assert.equal(b.inspect('big').id, d.id);
  } finally {
    t.cleanup();
  }
});

test('a failed index write rolls the import back', async () => {
  const t = tempDir();
  try {
    const s = newStore(t, 'a');
    await s.importKernel(t.file('k', multibootKernel()), 'a', { family: 'generic' });
    const root = join(t.path, 'a', 'images');
    const before = tree(root);
    // Make the index rename fail: replace repositories.json with a non-empty directory.
    const saved = readFileSync(join(root, 'repositories.json'));
    rmSync(join(root, 'repositories.json'));
    mkdirSync(join(root, 'repositories.json', 'x'), { recursive: true });
    await assert.rejects(s.importKernel(t.file('k2', pvhKernel()), 'b', { family: 'generic' }));
    rmSync(join(root, 'repositories.json'), { recursive: true });
    writeFileSync(join(root, 'repositories.json'), saved);
    assert.deepEqual(tree(root), before);
    assert.deepEqual(s.list().map((i) => i.repoTags), [['a:latest']]);
  } finally {
    t.cleanup();
  }
});
