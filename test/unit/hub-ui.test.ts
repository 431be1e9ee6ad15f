// CunikHub's web UI: the pure parts as tables (escaping, search, references, image details from
// untrusted manifests and configs, origins, pages) and the summary cache over a real store.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { escapeHtml, html, withQuery } from '../../src/hub/ui/html.js';
import { describeImage, foreignEntries, listLabel, matchesSearch, pageOf, parseSearch, splitReference, type RepoSummary } from '../../src/hub/ui/model.js';
import { entryPath, kernelSize, layerCompressed } from '../../src/hub/ui/kernel-size.js';
import { safeNext } from '../../src/hub/ui/routes.js';
import { sameOrigin, sessionCookie, setCookie, createUiAccess } from '../../src/hub/ui/session.js';
import { imagePage, listPage, repoPage, type Viewer } from '../../src/hub/ui/views.js';
import { HubCatalog } from '../../src/hub/ui/catalog.js';
import { Registry } from '../../src/hub/registry.js';
import { FsDriver } from '../../src/hub/storage/fs.js';
import { buildConfig } from '../../src/hub/config.js';
import * as k from '../../src/hub/keys.js';
import { tempDir } from './images-fixtures.js';

const t = tempDir('cunik-hub-ui-');
after(() => t.cleanup());
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const J = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

test('html escapes every interpolated value; nested fragments and arrays pass; query strings encode', () => {
  const cases: [string, string][] = [
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    ['"><img src=x onerror=alert(1)>', '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'],
    ["it's & co", 'it&#39;s &amp; co'],
    ['plain', 'plain'],
  ];
  for (const [input, want] of cases) {
    assert.equal(escapeHtml(input), want);
    assert.equal(html`<td title="${input}">${input}</td>`.text, `<td title="${want}">${want}</td>`);
  }
  assert.equal(html`<ul>${['<a>', html`<li>${'<b>'}</li>`]}</ul>`.text, '<ul>&lt;a&gt;<li>&lt;b&gt;</li></ul>');
  assert.equal(html`${undefined}${null}${false}${0}`.text, '0');
  assert.equal(withQuery('/', [['q', 'a b'], ['family', undefined], ['label', 'k=v&x']]), '/?q=a+b&label=k%3Dv%26x');
});

const repo = (name: string, tags: { family?: string; labels?: Record<string, string> }[]): RepoSummary => ({
  name, updatedMs: 0,
  tags: tags.map((x, i) => ({ tag: `t${i}`, digest: 'sha256:0', size: 1, pushedMs: 0, platforms: [], labels: x.labels ?? {}, ...(x.family !== undefined && { family: x.family }) })),
});

test('search: words of the name, family: and label: words, ?family= and ?label= parameters, all required', () => {
  assert.deepEqual(parseSearch('  team  family:Unikraft label:a=b=c label:x ', ['Linux'], ['k=v']), {
    text: ['team'], families: ['linux', 'unikraft'], labels: [{ key: 'k', value: 'v' }, { key: 'a', value: 'b=c' }, { key: 'x' }],
  });
  assert.deepEqual(parseSearch(undefined), { text: [], families: [], labels: [] });
  const r = repo('team/hello', [{ family: 'generic', labels: { 'org.cunik.boot': 'multiboot' } }, { family: 'unikraft' }]);
  const cases: [string, string[], string[], boolean][] = [
    ['', [], [], true],
    ['HELLO', [], [], true],
    ['team hello', [], [], true],
    ['team nope', [], [], false],
    ['', ['unikraft'], [], true],
    ['', ['nanos'], [], false],
    ['family:generic', [], [], true],
    ['', [], ['org.cunik.boot=multiboot'], true],
    ['', [], ['org.cunik.boot=pvh'], false],
    ['', [], ['org.cunik.boot'], true],
    ['label:org.cunik.boot=multiboot family:generic hel', [], [], true],
    ['', ['generic'], ['missing'], false],
  ];
  for (const [q, f, l, want] of cases) assert.equal(matchesSearch(r, parseSearch(q, f, l)), want, `${q} ${f} ${l}`);
});

test('references, redirects after sign-in, origins, cookies', () => {
  const refs: [string, ReturnType<typeof splitReference>][] = [
    ['team/app:v1', { name: 'team/app', tag: 'v1' }],
    ['app@sha256:abc', { name: 'app', digest: 'sha256:abc' }],
    ['host.name/app', undefined],
    ['app', undefined],
    [':v1', undefined],
  ];
  for (const [s, want] of refs) assert.deepEqual(splitReference(s), want, s);
  const nexts: [string, string][] = [['/repositories/a', '/repositories/a'], ['//evil.example/', '/'], ['https://evil.example/', '/'], ['/\\evil', '/'], ['', '/'], ['/a b', '/']];
  for (const [n, want] of nexts) assert.equal(safeNext(n), want, n);
  const origins: [Parameters<typeof sameOrigin>[0], boolean][] = [
    [{ host: 'hub:5000', origin: 'http://hub:5000' }, true],
    [{ host: 'hub:5000', origin: 'https://hub:5000' }, true],
    [{ host: 'hub:5000', origin: 'http://evil.example' }, false],
    [{ host: 'hub:5000', origin: 'null' }, false],
    [{ host: 'hub:5000', referer: 'http://hub:5000/repositories/a' }, true],
    [{ host: 'hub:5000', referer: 'http://evil.example/hub:5000' }, false],
    [{ host: 'hub:5000', 'sec-fetch-site': 'cross-site', origin: 'http://hub:5000' }, false],
    [{ host: 'hub:5000', 'sec-fetch-site': 'same-origin' }, true],
    [{ host: 'hub:5000' }, true],
    [{}, false],
  ];
  for (const [h, want] of origins) assert.equal(sameOrigin(h), want, JSON.stringify(h));
  assert.equal(sessionCookie('a=1; cunik_hub_session=tok.en; b=2'), 'tok.en');
  assert.equal(sessionCookie('cunik_hub_sessionx=1'), undefined);
  assert.match(setCookie('v', true), /^cunik_hub_session=v; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
  assert.match(setCookie(undefined, false), /^cunik_hub_session=; Max-Age=0; .*SameSite=Strict$/);
});

test('form tokens are bound to the session; actions follow the access rules and deletes: false', async () => {
  const key = new Uint8Array(32).fill(7);
  const open = await createUiAccess(buildConfig(undefined, {}, '/r'), key);
  assert.equal(open.signIn, false);
  assert.deepEqual([...open.actions(undefined, 'a/b')].sort(), ['delete', 'pull', 'push']);
  assert.equal(open.checkFormToken(open.formToken(undefined), undefined), true);
  assert.equal(open.checkFormToken(open.formToken('s1'), 's2'), false);
  assert.equal(open.checkFormToken('x', undefined), false);
  assert.equal(open.checkFormToken(undefined, undefined), false);
  const noDeletes = await createUiAccess(buildConfig('deletes: false', {}, '/r'), key);
  assert.deepEqual([...noDeletes.actions(undefined, 'a')].sort(), ['pull', 'push']);
  const ruled = await createUiAccess(buildConfig('auth:\n  htpasswd: /nonexistent\n  access:\n    - {user: alice, repository: "**", actions: [pull, delete]}\n    - {user: "*", repository: "team/*", actions: [pull]}\n  anonymous:\n    - {repository: "public/**", actions: [pull]}\n', {}, '/r'), key);
  const acts: [string | undefined, string, string[]][] = [
    [undefined, 'public/x/y', ['pull']], [undefined, 'team/a', []], ['bob', 'team/a', ['pull']], ['bob', 'other', []], ['alice', 'other', ['delete', 'pull']],
  ];
  for (const [u, n, want] of acts) assert.deepEqual([...ruled.actions(u, n)].sort(), want, `${u} ${n}`);
  assert.equal(await ruled.user('forged.jwt.value'), undefined);
});

const cfgBody = (labels: unknown, extra: Record<string, unknown> = {}): Buffer =>
  J({ architecture: 'amd64', os: 'linux', created: '2026-01-02T03:04:05Z', config: { Labels: labels, ...extra }, rootfs: { type: 'layers', diff_ids: [] } });
const manifest = (annotations?: unknown, layers: unknown = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: 'sha256:' + 'b'.repeat(64), size: 100 }]): Buffer =>
  J({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:' + 'c'.repeat(64), size: 50 }, layers, ...(annotations !== undefined && { annotations }) });

test('image details from manifests and configs: Cunik labels, annotation fallback, KraftKit, urunc, hostile types', () => {
  const m = manifest();
  const cunik = describeImage('sha256:1', 'application/vnd.oci.image.manifest.v1+json', m, cfgBody({
    'org.cunik.family': 'linux', 'org.cunik.boot': 'linux', 'org.cunik.args': '["a","b c"]', 'org.cunik.memory': '256', 'org.cunik.cpus': '2',
    'org.cunik.ports': '["80/tcp",443]', 'org.cunik.volumes': '["/data"]',
  }, { Env: ['A=1', 7] }));
  assert.deepEqual([cunik.kind, cunik.family, cunik.boot, cunik.args, cunik.memoryMiB, cunik.cpus, cunik.ports, cunik.volumes, cunik.env, cunik.platform, cunik.created, cunik.size, cunik.problems],
    ['image', 'linux', 'linux', ['a', 'b c'], 256, 2, ['80/tcp', '443'], ['/data'], ['A=1'], 'linux/amd64', '2026-01-02T03:04:05Z', m.length + 150, []]);
  // Labels missing from the config: the manifest's annotations (as images/oci.ts reads them); Docker's ExposedPorts.
  const fallback = describeImage('sha256:2', 'x', manifest({ 'org.cunik.family': 'generic', 'org.cunik.boot': 'pvh' }), cfgBody(null, { Cmd: ['x', 1], ExposedPorts: { '8080/tcp': {} } }));
  assert.deepEqual([fallback.family, fallback.boot, fallback.args, fallback.ports, fallback.memoryMiB], ['generic', 'pvh', ['x'], ['8080/tcp'], undefined]);
  const kraft = describeImage('sha256:3', 'application/vnd.oci.image.index.v1+json', J({
    schemaVersion: 2, manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + 'd'.repeat(64), size: 10, platform: { os: 'qemu', architecture: 'amd64' }, annotations: { 'org.unikraft.kernel.version': '0.17' } },
      { bogus: true },
    ],
  }));
  assert.deepEqual([kraft.kind, kraft.family, kraft.children.map((c) => c.platform), kraft.foreign], ['index', 'unikraft', ['qemu/amd64'], [{ format: 'KraftKit', key: 'org.unikraft.kernel.version', value: '0.17' }]]);
  const uruncAnn = { 'com.urunc.unikernel.unikernelType': 'unikraft', 'com.urunc.unikernel.hypervisor': 'qemu', 'com.urunc.unikernel.binary': '/unikernel/app', 'com.urunc.unikernel.cmdline': 'app <b>x</b> y' };
  const urunc = describeImage('sha256:4', 'x', manifest(uruncAnn), cfgBody({}));
  assert.deepEqual([urunc.family, urunc.format, urunc.kernelPath, urunc.args, urunc.foreign.length, urunc.problems], ['unikraft', 'urunc', 'unikernel/app', ['<b>x</b>', 'y'], 4, []]);
  const solo5 = describeImage('sha256:4', 'x', manifest({ ...uruncAnn, 'com.urunc.unikernel.unikernelType': 'rumprun', 'com.urunc.unikernel.hypervisor': 'hvt' }), cfgBody({}));
  assert.equal(solo5.family, 'rumprun');
  assert.match(solo5.problems[0]!, /^Cunik cannot run it: this image: a rumprun unikernel for Solo5's hvt tender/);
  const hostile: [Buffer, Buffer | undefined, string[]][] = [
    [Buffer.from('not json'), undefined, ['the manifest is not a JSON object']],
    [manifest({ a: 1, b: 'x' }, 'no'), Buffer.from('[1]'), ['the image config is not a JSON object']],
    [J({ schemaVersion: 2, config: 'x', layers: [null, 3] }), cfgBody({ 'org.cunik.memory': 'lots', 'org.cunik.args': 5 }, { Env: 'x' }), []],
  ];
  for (const [mb, cb, problems] of hostile) {
    const d = describeImage('sha256:5', 'x', mb, cb);
    assert.deepEqual(d.problems, problems);
    assert.deepEqual([d.layers, d.memoryMiB, d.env], [[], undefined, []]);
  }
  assert.deepEqual(describeImage('sha256:6', 'x', manifest({ a: 1, b: 'x' })).annotations, { b: 'x' });
  assert.deepEqual(foreignEntries({ 'org.unikraft.a': '1' }, { 'org.unikraft.a': '2', 'com.urunc.b': '3', other: '4' }).map((f) => `${f.format} ${f.key}=${f.value}`), ['urunc com.urunc.b=3', 'KraftKit org.unikraft.a=1']);
  const lists: [string | undefined, string[]][] = [[undefined, []], ['', []], ['["a",1,{}]', ['a', '1']], ['a, b,,c', ['a', 'b', 'c']], ['{"x":1}', ['{"x":1}']]];
  for (const [v, want] of lists) assert.deepEqual(listLabel(v), want, String(v));
  const pages: [number, number, number, number[]][] = [[5, 1, 2, [1, 2]], [5, 3, 2, [5]], [5, 9, 2, [5]], [5, 0, 2, [1, 2]], [0, 1, 2, []]];
  for (const [n, p, size, want] of pages) assert.deepEqual(pageOf(Array.from({ length: n }, (_, i) => i + 1), p, size).items, want);
});

const viewer: Viewer = { signIn: true, formToken: 'tok' };

test('pages escape what images say, and show delete forms only when the viewer may delete', () => {
  const evil = '<script>alert("x")</script>';
  const d = describeImage('sha256:' + 'e'.repeat(64), 'application/vnd.oci.image.manifest.v1+json', manifest({ 'org.unikraft.kernel.cmdline': evil }), cfgBody({ 'org.cunik.family': evil, note: evil }));
  const page = { name: 'team/app', details: d, tags: ['v1'], referrers: [{ mediaType: 'm', digest: 'sha256:' + 'f'.repeat(64), size: 3, artifactType: evil, annotations: { [evil]: evil } }], kernelBytes: 6280 };
  for (const canDelete of [true, false]) {
    const out = imagePage({ viewer, page, ref: 'v1', host: 'hub:5000', canDelete, now: Date.now() });
    assert.ok(!out.includes('<script>alert'), 'no markup from the image');
    assert.ok(out.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
    assert.ok(out.includes('cunik pull hub:5000/team/app:v1'));
    assert.ok(out.includes('6.3kB (6280 bytes)'));
    assert.equal(out.includes('action="/delete"'), canDelete);
  }
  const summary: RepoSummary = { name: 'team/app', updatedMs: Date.now(), tags: [{ tag: 'v1', digest: d.digest, size: 10, pushedMs: Date.now(), platforms: ['linux/amd64'], labels: {}, family: evil }] };
  const repoHtml = repoPage({ viewer, summary, host: 'hub', canDelete: false, now: Date.now() });
  assert.ok(!repoHtml.includes('<script>alert') && !repoHtml.includes('/delete'));
  const list = listPage({ viewer, page: pageOf([summary], 1, 100), search: { q: evil, family: [], label: [] }, visible: 1, now: Date.now() });
  assert.ok(!list.includes('<script>alert') && list.includes('value="&lt;script&gt;'));
});

test('kernel size: the boot file entry of the last layer holding one (plain, gzip and zstd tars); other layers skipped', async () => {
  const tarOf = async (files: [string, number][]): Promise<Buffer> => {
    const p = pack();
    for (const [name, size] of files) p.entry({ name, size }, Buffer.alloc(size, 1));
    p.finalize();
    const parts: Buffer[] = [];
    for await (const c of p) parts.push(c as Buffer);
    return Buffer.concat(parts);
  };
  const blobs = new Map<string, Buffer>([
    ['a', await tarOf([['cunik/', 0], ['./cunik/kernel', 1234]])],
    ['b', gzipSync(await tarOf([['etc/x', 10], ['/unikraft/bin/kernel', 777]]))],
    ['c', Buffer.from('not a tar at all')],
    ['z', execFileSync('zstd', ['-cq'], { input: await tarOf([['cunik/kernel', 4321]]) })],
    ['zbad', Buffer.from('(\xb5/\xfd not zstd either', 'latin1')],
  ]);
  const open = (d: string): Readable => Readable.from([blobs.get(d)!]);
  const L = (digest: string, mediaType: string) => ({ digest, mediaType, size: blobs.get(digest)!.length });
  assert.equal(await kernelSize([L('a', 'application/vnd.oci.image.layer.v1.tar')], undefined, open), 1234);
  assert.equal(await kernelSize([L('a', 'application/vnd.oci.image.layer.v1.tar'), L('b', 'application/vnd.docker.image.rootfs.diff.tar.gzip')], undefined, open), 777);
  assert.equal(await kernelSize([L('c', 'application/vnd.oci.image.layer.v1.tar')], undefined, open), undefined);
  assert.equal(await kernelSize([L('b', 'application/vnd.oci.image.layer.v1.tar+gzip')], '/etc/x', open), 10);
  assert.equal(await kernelSize([L('z', 'application/vnd.oci.image.layer.v1.tar+zstd')], undefined, open), 4321, 'a zstd layer (skopeo --dest-compress-format zstd)');
  assert.equal(await kernelSize([L('zbad', 'application/vnd.oci.image.layer.v1.tar+zstd')], undefined, open), undefined);
  const kinds: [string, string | undefined][] = [['application/vnd.oci.image.layer.v1.tar', 'none'], ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'], ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'], ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'], ['application/json', undefined]];
  for (const [mt, want] of kinds) assert.equal(layerCompressed(mt), want, mt);
  assert.equal(entryPath('.//./x/y'), 'x/y');
});

async function pushImage(reg: Registry, name: string, tag: string, labels: Record<string, string>): Promise<string> {
  const layer = Buffer.from(`layer of ${name}:${tag}`);
  const config = cfgBody(labels);
  for (const b of [layer, config]) {
    await reg.store.write(k.blobKey(sha(b)), b);
    await reg.linkBlob(name, sha(b));
  }
  const m = J({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }] });
  return (await reg.putManifest(name, tag, m, 'application/vnd.oci.image.manifest.v1+json')).digest;
}

/** Every folder of the store made to look a minute old: its stamp is then trusted (not racy). */
function ageFolders(root: string, dirs: string[]): void {
  const old = new Date(Date.now() - 60_000);
  for (const d of dirs) utimesSync(join(root, d), old, old);
}

test('summaries are cached, and redone when another process over the same store changes tags or repositories', async () => {
  const root = join(t.path, 'store');
  const a = new Registry(new FsDriver(root));
  const b = new Registry(new FsDriver(root)); // "another hub process"
  await pushImage(a, 'team/one', 'v1', { 'org.cunik.family': 'generic' });
  await pushImage(a, 'team/two', 'v1', { 'org.cunik.family': 'unikraft' });
  const cat = new HubCatalog(a, a.store);
  const folders = ['repositories', 'repositories/team', 'repositories/team/one', 'repositories/team/two', k.tagsPrefix('team/one'), k.tagsPrefix('team/two')];
  ageFolders(root, folders);
  const first = await cat.summaries();
  assert.deepEqual(first.map((r) => [r.name, r.tags.map((x) => `${x.tag} ${x.family}`)]), [['team/one', ['v1 generic']], ['team/two', ['v1 unikraft']]]);
  const again = await cat.summaries();
  assert.ok(again[0] === first[0] && again[1] === first[1], 'unchanged repositories come from the cache');

  const moved = await pushImage(b, 'team/one', 'v1', { 'org.cunik.family': 'nanos' });
  await pushImage(b, 'team/one', 'v2', { 'org.cunik.family': 'generic' });
  const third = await cat.summaries();
  assert.deepEqual(third[0]!.tags.map((x) => `${x.tag} ${x.family} ${x.digest === moved}`), ['v1 nanos true', 'v2 generic false']);
  assert.ok(third[1] === first[1], 'the other repository is not read again');

  ageFolders(root, folders);
  await cat.summaries();
  await pushImage(b, 'team/three', 'x', { 'org.cunik.family': 'linux', 'k': 'v' });
  await b.deleteRepository('team/two');
  assert.deepEqual((await cat.summaries()).map((r) => r.name), ['team/one', 'team/three']);
  // A repository nested in another (only the outer one's folder changes), and one made in a folder changed just now.
  ageFolders(root, ['repositories', 'repositories/team', 'repositories/team/one', 'repositories/team/three']);
  assert.deepEqual(await cat.names(), ['team/one', 'team/three']);
  await pushImage(b, 'team/one/sub', 'x', {});
  assert.deepEqual(await cat.names(), ['team/one', 'team/one/sub', 'team/three']);
  await pushImage(b, 'team/one/sub2', 'x', {});
  assert.deepEqual(await cat.names(), ['team/one', 'team/one/sub', 'team/one/sub2', 'team/three']);
  await b.deleteRepository('team/one/sub');
  await b.deleteRepository('team/one/sub2');
  await assert.rejects(cat.summary('team/two'), (e: { code: string }) => e.code === 'NAME_UNKNOWN');
  const img = await cat.image('team/one', 'v1');
  assert.deepEqual([img.details.family, img.tags, img.referrers], ['nanos', ['v1'], []]);
  await b.deleteManifest('team/one', 'v1');
  await assert.rejects(cat.image('team/one', 'v1'), (e: { code: string }) => e.code === 'MANIFEST_UNKNOWN');
  assert.deepEqual((await cat.summary('team/one')).tags.map((x) => x.tag), ['v2']);
});
