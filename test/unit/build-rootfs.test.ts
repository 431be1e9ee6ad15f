// Container images for `from:`: layers applied in order with whiteouts, nothing written outside
// the root, and the image's command, args, env and working directory read from its config.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseFrom, unpackContainer } from '../../src/build/linux/container.js';
import { applyLayer, applyLayers, resolveIn } from '../../src/build/linux/rootfs.js';
import { CunikError } from '../../src/errors.js';
import { tarBytes, writeContainerArchive, type LayerEntry } from '../fixtures/build/oci-archive.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-rootfs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const lower: LayerEntry[] = [
  { name: 'bin/', type: 'directory' },
  { name: 'bin/tool', body: '#!/bin/sh\n', mode: 0o755 },
  { name: 'bin/sh', type: 'symlink', linkname: 'tool' },
  { name: 'etc/removed', body: 'gone' },
  { name: 'etc/kept', body: 'kept' },
  { name: 'opaque/old', body: 'hidden' },
  { name: 'escape', type: 'symlink', linkname: '/' },
  { name: 'up', type: 'symlink', linkname: '../../../..' },
];
const upper: LayerEntry[] = [
  { name: 'etc/.wh.removed', body: '' },
  { name: 'opaque/.wh..wh..opq', body: '' },
  { name: 'opaque/new', body: 'new' },
  { name: 'escape/evil', body: 'x' },
  { name: 'up/evil2', body: 'x' },
  { name: 'etc/hard', type: 'link', linkname: 'etc/kept' },
  { name: 'bin/tool', body: 'replaced', mode: 0o700 },
];

test('layers apply in order: whiteouts delete, opaque dirs hide the lower layers, links stay inside', async () => {
  const root = join(tmp, 'root1');
  mkdirSync(root);
  const l1 = join(tmp, 'l1.tar');
  const l2 = join(tmp, 'l2.tar');
  writeFileSync(l1, await tarBytes(lower));
  writeFileSync(l2, await tarBytes(upper));
  await applyLayer(root, l1);
  await applyLayer(root, l2);
  assert.equal(existsSync(join(root, 'etc', 'removed')), false);
  assert.equal(readFileSync(join(root, 'etc', 'kept'), 'utf8'), 'kept');
  assert.equal(readFileSync(join(root, 'etc', 'hard'), 'utf8'), 'kept');
  assert.equal(existsSync(join(root, 'opaque', 'old')), false);
  assert.equal(readFileSync(join(root, 'opaque', 'new'), 'utf8'), 'new');
  assert.equal(readFileSync(join(root, 'evil'), 'utf8'), 'x', 'an absolute symlink resolves inside the root');
  assert.equal(readFileSync(join(root, 'evil2'), 'utf8'), 'x', '.. never climbs out of the root');
  assert.equal(existsSync('/evil'), false);
  assert.equal(readlinkSync(join(root, 'bin', 'sh')), 'tool');
  assert.equal(readFileSync(join(root, 'bin', 'tool'), 'utf8'), 'replaced');
  assert.equal(statSync(join(root, 'bin', 'tool')).mode & 0o777, 0o700);
  assert.equal(await resolveIn(root, '/escape/up/bin/sh', true), join(root, 'bin', 'tool'));
});

test('layers compressed with zstd, xz or bzip2 apply like plain ones; cut short, they are refused', async () => {
  for (const [tool, args] of [['zstd', ['-cq']], ['xz', ['-c', '-0']], ['bzip2', ['-c']]] as const) {
    const root = join(tmp, `root-${tool}`);
    mkdirSync(root);
    const packed = execFileSync(tool, args, { input: await tarBytes(lower) });
    writeFileSync(join(tmp, `l.${tool}`), packed);
    await applyLayer(root, join(tmp, `l.${tool}`));
    assert.equal(readFileSync(join(root, 'etc', 'kept'), 'utf8'), 'kept', tool);
    writeFileSync(join(tmp, `cut.${tool}`), packed.subarray(0, packed.length >> 1));
    const cut = join(tmp, `root-cut-${tool}`);
    mkdirSync(cut);
    await assert.rejects(applyLayer(cut, join(tmp, `cut.${tool}`)), new RegExp(`not valid ${tool} data|ended`), tool);
  }
});

for (const kind of ['oci', 'docker'] as const) {
  test(`a ${kind} archive: config gives the command (found on PATH), args, env and workdir`, async () => {
    const archive = join(tmp, `${kind}.tar`);
    await writeContainerArchive(archive, kind, [lower, upper], {
      Entrypoint: ['sh', '-e'], Cmd: ['/app/run.sh'], Env: ['PATH=/usr/bin:/bin', 'A=1'], WorkingDir: '/app',
    });
    const src = parseFrom(`${kind}-archive:${archive}`, (p) => p);
    const root = join(tmp, `${kind}-root`);
    const { applied, rows, ...img } = await unpackContainer(src, join(tmp, `${kind}-scratch`), root);
    // The tree's listing, as a walk of it finds it: the replaced tool's mode, the opaque dir's new file only.
    assert.deepEqual(rows.find((r) => r[0] === '/bin/tool'), ['/bin/tool', 'f', 0o700, 0, 0]);
    assert.deepEqual(rows.filter((r) => r[0].startsWith('/opaque/')).map((r) => r[0]), ['/opaque/new']);
    assert.deepEqual(rows.find((r) => r[0] === '/bin/sh'), ['/bin/sh', 'l', 0o777, 0, 0, 'tool']);
    // The diff_ids are computed from what was applied (the first layer gzip'd, the second plain).
    const sha = async (l: LayerEntry[]): Promise<string> => `sha256:${createHash('sha256').update(await tarBytes(l)).digest('hex')}`;
    assert.deepEqual(applied.diffIds, [await sha(lower), await sha(upper)]);
    assert.equal(applied.entries, lower.length + upper.length);
    assert.ok(applied.resident > 0);
    assert.deepEqual(img, { layers: 2, command: ['/bin/sh', '-e'], args: ['/app/run.sh'], env: ['PATH=/usr/bin:/bin', 'A=1'], workdir: '/app' });
    assert.equal(readFileSync(join(root, 'opaque', 'new'), 'utf8'), 'new');
    assert.equal(existsSync(join(root, 'etc', 'removed')), false);
  });
}

test('without an Entrypoint, Cmd is the whole command; bad sources are named', async () => {
  const archive = join(tmp, 'cmd.tar');
  await writeContainerArchive(archive, 'oci', [lower], { Cmd: ['/bin/tool', 'x'] });
  const img = await unpackContainer(parseFrom(`oci-archive:${archive}`, (p) => p), join(tmp, 'cmd-s'), join(tmp, 'cmd-r'));
  assert.deepEqual([img.command, img.args], [['/bin/tool', 'x'], []]);
  assert.throws(() => parseFrom('busybox:latest', (p) => p), (e: unknown) => e instanceof CunikError && e.field === 'from' && /oci-archive:PATH or docker-archive:PATH/.test(e.message));
  const none = join(tmp, 'none.tar');
  await writeContainerArchive(none, 'oci', [lower], {});
  await assert.rejects(unpackContainer(parseFrom(`oci-archive:${none}`, (p) => p), join(tmp, 'n-s'), join(tmp, 'n-r')), /neither Entrypoint nor Cmd/);
  const missing = join(tmp, 'path.tar');
  await writeContainerArchive(missing, 'oci', [lower], { Cmd: ['nosuch'] });
  await assert.rejects(unpackContainer(parseFrom(`oci-archive:${missing}`, (p) => p), join(tmp, 'm-s'), join(tmp, 'm-r')), /nosuch is not in its PATH/);
});

test('a layer names nothing through ".."; parents it has no entry for are 0755 under the daemon\'s umask', async () => {
  for (const [name, entries] of [
    ['a/../../x', [{ name: 'a/../../x', body: 'x' }]],
    ['hard link up', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]],
  ] as [string, LayerEntry[]][]) {
    const root = join(tmp, `dots-${Math.random()}`);
    mkdirSync(root);
    const l = join(tmp, 'dots.tar');
    writeFileSync(l, await tarBytes(entries));
    await assert.rejects(applyLayer(root, l, 'from: layer x'), (e: unknown) => e instanceof CunikError && e.field === 'from' && /^from: layer x: entry .* points outside the archive/.test(e.message), name);
  }
  const old = process.umask(0o077);
  try {
    const root = join(tmp, 'umask-root');
    mkdirSync(root);
    const l = join(tmp, 'parents.tar');
    writeFileSync(l, await tarBytes([{ name: '/usr/share/doc/x', body: 'x', mode: 0o644 }, { name: 'dev/null', type: 'character-device' }]));
    await applyLayer(root, l);
    for (const d of ['usr', 'usr/share', 'usr/share/doc']) assert.equal(statSync(join(root, d)).mode & 0o777, 0o755, d);
    assert.equal(statSync(join(root, 'usr/share/doc/x')).mode & 0o777, 0o644);
    assert.equal(existsSync(join(root, 'dev', 'null')), false, 'no device node is made on the host');
  } finally {
    process.umask(old);
  }
});

test('a container archive\'s own JSON may name only files inside it', async () => {
  const archive = async (entries: LayerEntry[]): Promise<string> => {
    const file = join(tmp, `crafted-${Math.random()}.tar`);
    writeFileSync(file, await tarBytes(entries));
    return file;
  };
  const manifest = (m: unknown): LayerEntry => ({ name: 'manifest.json', body: JSON.stringify(m) });
  const cases: [string, 'docker' | 'oci', LayerEntry[], RegExp][] = [
    ['config above the archive', 'docker', [manifest([{ Config: '../../../../etc/passwd', Layers: [] }])], /names "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd", which is outside it/],
    ['absolute layer', 'docker', [{ name: 'c.json', body: '{}' }, manifest([{ Config: 'c.json', Layers: ['/etc/shadow'] }])], /names "\/etc\/shadow", which is outside it/],
    ['layer through a symlink', 'docker', [{ name: 'c.json', body: '{}' }, { name: 'l', type: 'symlink', linkname: '/etc' }, manifest([{ Config: 'c.json', Layers: ['l/shadow'] }])], /names "l\/shadow", which is outside it/],
    ['manifest.json a symlink to a host file', 'docker', [{ name: 'manifest.json', type: 'symlink', linkname: '/etc/shadow' }], /names "manifest\.json", which is outside it/],
    ['index.json a symlink to a host file', 'oci', [{ name: 'index.json', type: 'symlink', linkname: '/etc/shadow' }], /names "index\.json", which is outside it/],
    ['a blob named by a path', 'oci', [{ name: 'index.json', body: JSON.stringify({ manifests: [{ digest: 'sha256:../../../../etc/passwd' }] }) }], /names a blob by "sha256:\.\.\/.*", not a sha256 digest/],
    ['an entry under a symlink', 'oci', [{ name: 'blobs', type: 'symlink', linkname: tmp }, { name: 'blobs/sha256/x', body: 'x' }], /entry "blobs\/sha256\/x" is under the symlink "blobs"/],
  ];
  for (const [what, kind, entries, re] of cases) {
    const file = await archive(entries);
    await assert.rejects(unpackContainer(parseFrom(`${kind}-archive:${file}`, (p) => p), join(tmp, `c-s-${Math.random()}`), join(tmp, `c-r-${Math.random()}`)),
      (e: unknown) => e instanceof CunikError && e.field === 'from' && re.test(e.message) && !e.message.includes('\n') || assert.fail(`${what}: ${String(e)}`), what);
  }
  assert.equal(existsSync(join(tmp, 'sha256')), false);
});

test('a layer\'s owners are kept (numeric, as a runtime applies them), set-id bits too', async () => {
  const root = join(tmp, 'owners');
  mkdirSync(root);
  const layer = join(tmp, 'owners.tar');
  writeFileSync(layer, await tarBytes([
    { name: 'var/log/svc/', type: 'directory', mode: 0o750, uid: 33, gid: 33 },
    { name: 'var/log/svc/log', body: 'x', uid: 33, gid: 4 },
    { name: 'var/log/svc/link', type: 'symlink', linkname: 'log', uid: 33, gid: 33 },
    { name: 'bin/su', body: 'su', mode: 0o4755 },
    { name: 'bin/tool', body: 'tool', mode: 0o2755, uid: 0, gid: 42 },
  ]));
  await applyLayer(root, layer);
  const st = (p: string): { uid: number; gid: number; mode: number } => {
    const s = lstatSync(join(root, p));
    return { uid: s.uid, gid: s.gid, mode: s.mode & 0o7777 };
  };
  assert.deepEqual(st('var/log/svc'), { uid: 33, gid: 33, mode: 0o750 });
  assert.deepEqual(st('var/log/svc/log'), { uid: 33, gid: 4, mode: 0o644 });
  assert.deepEqual({ ...st('var/log/svc/link'), mode: 0 }, { uid: 33, gid: 33, mode: 0 });
  assert.deepEqual(st('bin/su'), { uid: 0, gid: 0, mode: 0o4755 });
  assert.deepEqual(st('bin/tool'), { uid: 0, gid: 42, mode: 0o2755 });
  assert.deepEqual(st('var/log'), { uid: 0, gid: 0, mode: 0o755 }, 'a parent the layer does not name is root\'s');
});

test('a directory replaced by a symlink, in the same layer or by a whiteout, is followed afterwards (no stale resolution)', async () => {
  const root = join(tmp, 'replaced');
  mkdirSync(root);
  const l1 = join(tmp, 'replaced1.tar');
  const l2 = join(tmp, 'replaced2.tar');
  writeFileSync(l1, await tarBytes([
    { name: 'x/', type: 'directory' },
    { name: 'x/1', body: 'one' },
    { name: 'x', type: 'symlink', linkname: 'y' },
    { name: 'y/', type: 'directory' },
    { name: 'x/2', body: 'two' },
    { name: 'd/', type: 'directory' },
    { name: 'd/f', body: 'f' },
  ]));
  writeFileSync(l2, await tarBytes([
    { name: '.wh.d', body: '' },
    { name: 'd', type: 'symlink', linkname: '/e' },
    { name: 'e/', type: 'directory' },
    { name: 'd/g', body: 'g' },
  ]));
  await applyLayers(root, [{ file: l1, what: 'l1' }, { file: l2, what: 'l2' }]);
  assert.equal(readlinkSync(join(root, 'x')), 'y');
  assert.equal(readFileSync(join(root, 'y', '2'), 'utf8'), 'two');
  assert.equal(existsSync(join(root, 'y', '1')), false);
  assert.equal(readFileSync(join(root, 'e', 'g'), 'utf8'), 'g');
  assert.equal(existsSync(join(root, 'e', 'f')), false);
});
