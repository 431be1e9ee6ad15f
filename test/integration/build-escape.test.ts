// Hostile build contexts and image archives through the real daemon API: nothing from a tar is
// written outside its directory, no context path reads a host file through a symlink, and each
// attempt is one 400 line that leaves nothing behind (no scratch directory, no image).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { ApiError } from '../../src/client/index.js';
import { buildImage } from '../../src/client/build.js';
import { helloKernel, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { tarBytes, type LayerEntry } from '../fixtures/build/oci-archive.js';

let d: TestDaemon;
let host: string;

before(async () => {
  d = await startDaemon();
  host = join(d.dir, 'host');
  mkdirSync(host);
  writeFileSync(join(host, 'secret'), 'host secret\n');
});
after(() => d.stop());

const kernel = readFileSync(helloKernel);

async function refusedBuild(entries: LayerEntry[], re: RegExp, file?: string): Promise<void> {
  const body = Readable.from([await tarBytes(entries)]);
  await assert.rejects(buildImage(d.client, body, { tag: 'evil', ...(file !== undefined && { file }) }), (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 400);
    assert.doesNotMatch(e.message, /\n/);
    assert.match(e.message, re);
    return true;
  });
  assert.deepEqual(readdirSync(host), ['secret'], 'nothing written on the host');
  assert.deepEqual(readdirSync(join(d.root, 'build-cache', 'tmp')), [], 'no scratch left behind');
  await assert.rejects(d.client.inspectImage('evil'), (e: unknown) => e instanceof ApiError && e.status === 404);
}

test('a context tar cannot write through its own symlinks, climb out, link out or make devices', async () => {
  await refusedBuild([{ name: 'link', type: 'symlink', linkname: host }, { name: 'link/x', body: 'pwned' }], /^build context: entry "link\/x" is under the symlink "link"$/);
  await refusedBuild([{ name: '../../x', body: 'pwned' }], /^build context: entry "\.\.\/\.\.\/x" points outside the archive/);
  await refusedBuild([{ name: join(host, 'x'), body: 'pwned' }], /has an absolute path/);
  await refusedBuild([{ name: 'h', type: 'link', linkname: join(host, 'secret') }], /hard link to/);
  await refusedBuild([{ name: 'mem', type: 'character-device', devmajor: 1, devminor: 1 }], /"mem" is a character device/);
});

test('Cunikfile paths may not follow a symlink out of the context', async () => {
  const cunikfile = (text: string): LayerEntry => ({ name: 'Cunikfile', body: text });
  await refusedBuild([cunikfile('family: generic\nkernel: k\n'), { name: 'k', type: 'symlink', linkname: join(host, 'secret') }],
    /^kernel: k is outside the build context/);
  await refusedBuild([cunikfile('family: generic\nkernel: d/secret\n'), { name: 'd', type: 'symlink', linkname: host }],
    /^kernel: d\/secret is outside the build context/);
  // The Cunikfile itself: a symlink to a host file would have its text in the parse errors.
  await refusedBuild([{ name: 'Cunikfile', type: 'symlink', linkname: '/etc/shadow' }], /^file: Cunikfile must be a path inside the build context$/);
  await refusedBuild([{ name: 'other', type: 'symlink', linkname: '/etc/shadow' }], /must be a path inside the build context/, 'other');
  // A linux image's files: the case, /etc/shadow copied into the image through a link.
  await refusedBuild([
    cunikfile('family: linux\napp: /bin/busybox\nfiles:\n  - { src: conf/shadow, dst: /shadow }\n'),
    { name: 'conf/', type: 'directory' },
    { name: 'conf/shadow', type: 'symlink', linkname: '/etc/shadow' },
  ], /^files\[0\].src: conf\/shadow is outside the build context/);
});

test('a context symlink that stays inside it builds', async () => {
  const body = Readable.from([await tarBytes([
    { name: 'Cunikfile', body: 'family: generic\nkernel: current\n' },
    { name: 'kernels/hello.elf', body: kernel },
    { name: 'current', type: 'symlink', linkname: 'kernels/hello.elf' },
  ])]);
  const r = await buildImage(d.client, body, { tag: 'linked' });
  assert.equal(r.ref, 'linked:latest');
  assert.equal((await d.client.inspectImage('linked')).family, 'generic');
});

test('image load refuses an archive whose entries climb out, and keeps nothing', async () => {
  for (const [entries, re] of [
    [[{ name: '../../../evil', body: 'x' }], /^image archive: entry "\.\.\/\.\.\/\.\.\/evil" points outside the archive/],
    [[{ name: 'dev', type: 'block-device', devmajor: 8, devminor: 0 }], /^image archive: entry "dev" is a block device/],
  ] as [LayerEntry[], RegExp][]) {
    await assert.rejects(d.client.loadImages(Readable.from([await tarBytes(entries)])), (e: unknown) => e instanceof ApiError && e.status === 400 && re.test(e.message));
  }
  assert.equal(existsSync(join(d.root, '..', 'evil')), false);
  assert.deepEqual((await d.client.listImages()).map((i) => i.repoTags).flat(), ['linked:latest']);
});
