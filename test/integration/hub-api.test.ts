// CunikHub against the OCI Distribution Spec v1.1, endpoint by endpoint and error by error, over
// real HTTP to a real hub process (test/helpers/hub.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { startHub, sha256, storeProblems, type TestHub } from '../helpers/hub.js';

let hub: TestHub;
before(async () => {
  hub = await startHub({ config: 'uploads:\n  timeout: 2s\n' });
});
after(async () => hub.stop());

const OCI_M = 'application/vnd.oci.image.manifest.v1+json';
const OCI_I = 'application/vnd.oci.image.index.v1+json';
type Init = Omit<RequestInit, 'body'> & { body?: Buffer | string | ArrayBuffer };
const req = (path: string, init: Init = {}): Promise<Response> => {
  const { body, ...rest } = init;
  const b = body === undefined ? undefined : typeof body === 'string' ? body : new Uint8Array(body as ArrayBuffer);
  return fetch(`${hub.url}${path}`, { redirect: 'manual', ...rest, ...(b !== undefined && { body: b }) });
};
async function errorCode(r: Response): Promise<string> {
  const body = (await r.json()) as { errors: { code: string; message: string }[] };
  assert.ok(body.errors[0]!.message.length > 0);
  return body.errors[0]!.code;
}

/** Push a blob monolithically (POST then PUT); returns its digest. */
async function pushBlob(name: string, data: Buffer): Promise<string> {
  const start = await req(`/v2/${name}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  const digest = sha256(data);
  const put = await req(`${start.headers.get('location')}?digest=${digest}`, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(put.status, 201, await put.text());
  return digest;
}

function imageManifest(config: string, configSize: number, layers: { digest: string; size: number }[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_M,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configSize },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })), ...extra,
  }));
}

async function pushImage(name: string, tag: string, extra: Record<string, unknown> = {}): Promise<{ digest: string; body: Buffer; layer: string }> {
  const cfg = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = randomBytes(1000);
  const c = await pushBlob(name, cfg);
  const l = await pushBlob(name, layer);
  const body = imageManifest(c, cfg.length, [{ digest: l, size: layer.length }], extra);
  const r = await req(`/v2/${name}/manifests/${tag}`, { method: 'PUT', body, headers: { 'content-type': OCI_M } });
  assert.equal(r.status, 201, await r.text());
  assert.equal(r.headers.get('docker-content-digest'), sha256(body));
  return { digest: sha256(body), body, layer: l };
}

test('/v2/ answers 200 with the API version header', async () => {
  const r = await req('/v2/');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
});

test('blobs: monolithic POST+PUT, single POST, HEAD, GET, Range, DELETE', async () => {
  const data = randomBytes(10_000);
  const digest = await pushBlob('t/blobs', data);
  const head = await req(`/v2/t/blobs/blobs/${digest}`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '10000');
  assert.equal(head.headers.get('docker-content-digest'), digest);
  const get = await req(`/v2/t/blobs/blobs/${digest}`);
  assert.deepEqual(Buffer.from(await get.arrayBuffer()), data);
  const part = await req(`/v2/t/blobs/blobs/${digest}`, { headers: { range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 100-199/10000');
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(100, 200));
  const tail = await req(`/v2/t/blobs/blobs/${digest}`, { headers: { range: 'bytes=-10' } });
  assert.deepEqual(Buffer.from(await tail.arrayBuffer()), data.subarray(9990));
  const outside = await req(`/v2/t/blobs/blobs/${digest}`, { headers: { range: 'bytes=20000-' } });
  assert.equal(outside.status, 416);
  await outside.body?.cancel();

  const one = randomBytes(500);
  const post = await req(`/v2/t/blobs/blobs/uploads/?digest=${sha256(one)}`, { method: 'POST', body: one, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(post.status, 201);
  assert.equal(post.headers.get('location'), `/v2/t/blobs/blobs/${sha256(one)}`);
  assert.equal((await req(`/v2/t/blobs/blobs/${sha256(one)}`, { method: 'HEAD' })).status, 200);

  // Another repository does not see it (links are per repository).
  const other = await req(`/v2/t/other/blobs/${digest}`);
  assert.equal(other.status, 404);
  assert.equal(await errorCode(other), 'BLOB_UNKNOWN');

  const del = await req(`/v2/t/blobs/blobs/${digest}`, { method: 'DELETE' });
  assert.equal(del.status, 202);
  assert.equal((await req(`/v2/t/blobs/blobs/${digest}`, { method: 'HEAD' })).status, 404);
});

test('blobs: a digest mismatch is DIGEST_INVALID and nothing becomes visible', async () => {
  const data = randomBytes(100);
  const wrong = sha256('something else');
  const post = await req(`/v2/t/mismatch/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(post.status, 400);
  assert.equal(await errorCode(post), 'DIGEST_INVALID');
  assert.equal((await req(`/v2/t/mismatch/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
  assert.equal((await req(`/v2/t/mismatch/blobs/${sha256(data)}`, { method: 'HEAD' })).status, 404);
  for (const bad of ['sha256:zz', 'sha256:' + 'A'.repeat(64), 'md5:abc', 'nocolon', 'sha512:' + 'a'.repeat(128)]) {
    const r = await req(`/v2/t/mismatch/blobs/${bad}`);
    assert.equal(r.status, 400, bad);
    assert.equal(await errorCode(r), 'DIGEST_INVALID', bad);
  }
  const r = await req(`/v2/t/mismatch/blobs/uploads/?digest=sha256:nothex`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 400);
  assert.equal(await errorCode(r), 'DIGEST_INVALID');
});

test('uploads: chunked PATCHes in order, status GET, gaps and overlaps refused with 416', async () => {
  const data = randomBytes(30);
  const start = await req('/v2/t/chunks/blobs/uploads/', { method: 'POST' });
  const loc = start.headers.get('location')!;
  const id = start.headers.get('docker-upload-uuid')!;
  assert.ok(loc.endsWith(id));
  const patch = (from: number, to: number, body = data.subarray(from, to + 1)) =>
    req(loc, { method: 'PATCH', body, headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${to}` } });
  const p1 = await patch(0, 9);
  assert.equal(p1.status, 202);
  assert.equal(p1.headers.get('range'), '0-9');
  assert.equal(p1.headers.get('location'), loc);
  const st = await req(loc);
  assert.equal(st.status, 204);
  assert.equal(st.headers.get('range'), '0-9');
  assert.equal(st.headers.get('docker-upload-uuid'), id);
  const gap = await patch(20, 29);
  assert.equal(gap.status, 416);
  assert.equal(gap.headers.get('range'), '0-9');
  await gap.body?.cancel();
  const overlap = await patch(5, 14);
  assert.equal(overlap.status, 416);
  await overlap.body?.cancel();
  const disagree = await patch(10, 19, data.subarray(10, 15));
  assert.equal(disagree.status, 416);
  await disagree.body?.cancel();
  assert.equal((await patch(10, 19)).status, 202);
  const done = await req(`${loc}?digest=${sha256(data)}`, { method: 'PUT', body: data.subarray(20), headers: { 'content-type': 'application/octet-stream', 'content-range': '20-29' } });
  assert.equal(done.status, 201, await done.text());
  const got = await req(`/v2/t/chunks/blobs/${sha256(data)}`);
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
  // Finished: the upload is gone.
  const gone = await req(loc);
  assert.equal(gone.status, 404);
  assert.equal(await errorCode(gone), 'BLOB_UPLOAD_UNKNOWN');
});

test('uploads: streamed PATCH without Content-Range, then PUT without a body', async () => {
  const data = randomBytes(200_000);
  const start = await req('/v2/t/stream/blobs/uploads/', { method: 'POST' });
  const loc = start.headers.get('location')!;
  const p = await req(loc, { method: 'PATCH', body: data, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(p.status, 202);
  assert.equal(p.headers.get('range'), `0-${data.length - 1}`);
  const put = await req(`${loc}?digest=${sha256(data)}`, { method: 'PUT' });
  assert.equal(put.status, 201, await put.text());
});

test('uploads: a truncated body keeps nothing of it; unknown, foreign and cancelled uploads are BLOB_UPLOAD_UNKNOWN', async () => {
  const start = await req('/v2/t/trunc/blobs/uploads/', { method: 'POST' });
  const loc = start.headers.get('location')!;
  await new Promise<void>((resolve) => {
    const s = connect(Number(new URL(hub.url).port), '127.0.0.1', () => {
      s.write(`PATCH ${loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`);
      s.write(randomBytes(50_000), () => setImmediate(() => s.destroy()));
    });
    s.on('close', () => resolve());
  });
  // The server saw the connection drop; its status then shows no byte of that request.
  let range = '';
  for (let i = 0; i < 100; i++) {
    const st = await req(loc);
    range = st.headers.get('range') ?? '';
    if (range === '0-0') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(range, '0-0');
  const foreign = await req(loc.replace('/t/trunc/', '/t/other/'));
  assert.equal(await errorCode(foreign), 'BLOB_UPLOAD_UNKNOWN');
  const bogus = await req('/v2/t/trunc/blobs/uploads/../../etc', { method: 'PATCH', body: 'x', headers: { 'content-type': 'application/octet-stream' } });
  assert.ok(bogus.status === 404 || bogus.status === 400);
  await bogus.body?.cancel();
  assert.equal((await req(loc, { method: 'DELETE' })).status, 204);
  assert.equal(await errorCode(await req(loc)), 'BLOB_UPLOAD_UNKNOWN');
});

test('uploads: an abandoned upload is removed after the timeout', async () => {
  const start = await req('/v2/t/abandoned/blobs/uploads/', { method: 'POST' });
  const loc = start.headers.get('location')!;
  await req(loc, { method: 'PATCH', body: 'abc', headers: { 'content-type': 'application/octet-stream' } });
  let status = 0;
  for (let i = 0; i < 100 && status !== 404; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const r = await req(loc);
    status = r.status;
    await r.body?.cancel();
  }
  assert.equal(status, 404);
});

test('cross-repository mount: 201 from a repository that has it, 202 and an upload otherwise', async () => {
  const data = randomBytes(300);
  const digest = await pushBlob('t/mount-src', data);
  const m = await req(`/v2/t/mount-dst/blobs/uploads/?mount=${digest}&from=t/mount-src`, { method: 'POST' });
  assert.equal(m.status, 201);
  assert.equal(m.headers.get('location'), `/v2/t/mount-dst/blobs/${digest}`);
  assert.equal((await req(`/v2/t/mount-dst/blobs/${digest}`, { method: 'HEAD' })).status, 200);
  const no = await req(`/v2/t/mount-dst2/blobs/uploads/?mount=${digest}&from=t/nowhere`, { method: 'POST' });
  assert.equal(no.status, 202);
  const loc = no.headers.get('location')!;
  assert.equal((await req(`${loc}?digest=${digest}`, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } })).status, 201);
  // The blob is stored once for all three repositories.
  assert.equal(storeProblems(hub.root).length, 0);
});

test('manifests: PUT/GET/HEAD by tag and digest with Content-Type and Docker-Content-Digest', async () => {
  const { digest, body } = await pushImage('t/man', 'v1');
  for (const ref of ['v1', digest]) {
    const g = await req(`/v2/t/man/manifests/${ref}`, { headers: { accept: OCI_M } });
    assert.equal(g.status, 200);
    assert.equal(g.headers.get('content-type'), OCI_M);
    assert.equal(g.headers.get('docker-content-digest'), digest);
    assert.deepEqual(Buffer.from(await g.arrayBuffer()), body);
    const h = await req(`/v2/t/man/manifests/${ref}`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-length'), String(body.length));
  }
  const unknownTag = await req('/v2/t/man/manifests/nope');
  assert.equal(unknownTag.status, 404);
  assert.equal(await errorCode(unknownTag), 'MANIFEST_UNKNOWN');
  const unknownRepo = await req('/v2/t/never/manifests/v1');
  assert.equal(unknownRepo.status, 404);
  assert.equal(await errorCode(unknownRepo), 'NAME_UNKNOWN');
  const unknownDigest = await req(`/v2/t/man/manifests/${sha256('x')}`);
  assert.equal(await errorCode(unknownDigest), 'MANIFEST_UNKNOWN');
  const badDigest = await req('/v2/t/man/manifests/sha256:123');
  assert.equal(badDigest.status, 400);
  assert.equal(await errorCode(badDigest), 'DIGEST_INVALID');
  // PUT by digest: the digest must be the body's.
  const wrong = await req(`/v2/t/man/manifests/${sha256('other')}`, { method: 'PUT', body, headers: { 'content-type': OCI_M } });
  assert.equal(await errorCode(wrong), 'DIGEST_INVALID');
  const byDigest = await req(`/v2/t/man/manifests/${digest}`, { method: 'PUT', body, headers: { 'content-type': OCI_M } });
  assert.equal(byDigest.status, 201);
});

test('manifests: missing blobs, malformed and oversized manifests are refused', async () => {
  const missing = imageManifest(sha256('no config'), 9, [{ digest: sha256('no layer'), size: 8 }]);
  const r = await req('/v2/t/bad/manifests/v1', { method: 'PUT', body: missing, headers: { 'content-type': OCI_M } });
  assert.equal(r.status, 400);
  assert.equal(await errorCode(r), 'MANIFEST_BLOB_UNKNOWN');
  for (const body of ['{not json', '[]', '{"schemaVersion":1}', JSON.stringify({ schemaVersion: 2, mediaType: OCI_M, config: { digest: 'x' }, layers: [] })]) {
    const b = await req('/v2/t/bad/manifests/v1', { method: 'PUT', body, headers: { 'content-type': OCI_M } });
    assert.equal(b.status, 400, body);
    assert.equal(await errorCode(b), 'MANIFEST_INVALID', body);
  }
  const mixed = await req('/v2/t/bad/manifests/v1', { method: 'PUT', body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_I, manifests: [] }), headers: { 'content-type': OCI_M } });
  assert.equal(await errorCode(mixed), 'MANIFEST_INVALID');
  const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
  const big = await req('/v2/t/bad/manifests/v1', { method: 'PUT', body: huge, headers: { 'content-type': OCI_M } });
  assert.equal(big.status, 413);
  assert.equal(await errorCode(big), 'SIZE_INVALID');
  const badTag = await req('/v2/t/bad/manifests/-x', { method: 'PUT', body: '{}', headers: { 'content-type': OCI_M } });
  assert.equal(badTag.status, 400);
  await badTag.body?.cancel();
  assert.equal((await req('/v2/t/bad/tags/list')).status, 404);
});

test('manifests: Docker schema 2 manifests and lists, OCI indexes (children must be present)', async () => {
  const cfg = Buffer.from('{}');
  const layer = randomBytes(64);
  const c = await pushBlob('t/docker', cfg);
  const l = await pushBlob('t/docker', layer);
  const DOCKER_M = 'application/vnd.docker.distribution.manifest.v2+json';
  const DOCKER_L = 'application/vnd.docker.distribution.manifest.list.v2+json';
  const m = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: DOCKER_M,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: c, size: cfg.length },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: l, size: layer.length }],
  }));
  assert.equal((await req('/v2/t/docker/manifests/amd64', { method: 'PUT', body: m, headers: { 'content-type': DOCKER_M } })).status, 201);
  const list = (mt: string, children: string[]) => Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: mt,
    manifests: children.map((d) => ({ mediaType: DOCKER_M, digest: d, size: m.length, platform: { architecture: 'amd64', os: 'linux' } })),
  }));
  const ok = list(DOCKER_L, [sha256(m)]);
  const put = await req('/v2/t/docker/manifests/latest', { method: 'PUT', body: ok, headers: { 'content-type': DOCKER_L } });
  assert.equal(put.status, 201);
  const g = await req('/v2/t/docker/manifests/latest');
  assert.equal(g.headers.get('content-type'), DOCKER_L);
  await g.body?.cancel();
  const missing = list(OCI_I, [sha256(m), sha256('absent manifest')]);
  const bad = await req('/v2/t/docker/manifests/broken', { method: 'PUT', body: missing, headers: { 'content-type': OCI_I } });
  assert.equal(bad.status, 400);
  assert.equal(await errorCode(bad), 'MANIFEST_BLOB_UNKNOWN');
});

test('manifests: DELETE by tag removes the tag, by digest the manifest and its tags', async () => {
  const { digest } = await pushImage('t/del', 'a');
  await req(`/v2/t/del/manifests/${digest}`, { method: 'PUT', body: (await (await req(`/v2/t/del/manifests/a`)).arrayBuffer()) as ArrayBuffer, headers: { 'content-type': OCI_M } });
  const tagB = await req('/v2/t/del/manifests/b', { method: 'PUT', body: Buffer.from(await (await req(`/v2/t/del/manifests/a`)).arrayBuffer()), headers: { 'content-type': OCI_M } });
  assert.equal(tagB.status, 201);
  assert.equal((await req('/v2/t/del/manifests/a', { method: 'DELETE' })).status, 202);
  assert.equal((await req('/v2/t/del/manifests/a')).status, 404);
  assert.equal((await req('/v2/t/del/manifests/b')).status, 200);
  assert.equal((await req(`/v2/t/del/manifests/${digest}`, { method: 'DELETE' })).status, 202);
  assert.equal((await req('/v2/t/del/manifests/b')).status, 404);
  const again = await req(`/v2/t/del/manifests/${digest}`, { method: 'DELETE' });
  assert.equal(await errorCode(again), 'MANIFEST_UNKNOWN');
});

test('tags: sorted, paginated with n and last, Link to the next page', async () => {
  const { body } = await pushImage('t/tags', 'b');
  for (const t of ['a', 'c', 'd', 'e']) {
    assert.equal((await req(`/v2/t/tags/manifests/${t}`, { method: 'PUT', body, headers: { 'content-type': OCI_M } })).status, 201);
  }
  const all = await (await req('/v2/t/tags/tags/list')).json();
  assert.deepEqual(all, { name: 't/tags', tags: ['a', 'b', 'c', 'd', 'e'] });
  const p1 = await req('/v2/t/tags/tags/list?n=2');
  assert.deepEqual(((await p1.json()) as { tags: string[] }).tags, ['a', 'b']);
  assert.equal(p1.headers.get('link'), '</v2/t/tags/tags/list?n=2&last=b>; rel="next"');
  const p2 = await req('/v2/t/tags/tags/list?n=2&last=b');
  assert.deepEqual(((await p2.json()) as { tags: string[] }).tags, ['c', 'd']);
  const p3 = await req('/v2/t/tags/tags/list?n=2&last=d');
  assert.deepEqual(((await p3.json()) as { tags: string[] }).tags, ['e']);
  assert.equal(p3.headers.get('link'), null);
  const bad = await req('/v2/t/tags/tags/list?n=-1');
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});

test('referrers: a manifest with a subject is accepted before the subject, listed, filtered by artifactType', async () => {
  const subject = { mediaType: OCI_M, digest: sha256('subject not pushed yet'), size: 22 };
  const empty = Buffer.from('{}');
  const e = await pushBlob('t/ref', empty);
  const mk = (artifactType: string, layer: string) => Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_M, artifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: e, size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: e, size: 2 }],
    subject, annotations: { note: layer },
  }));
  const sig = mk('application/vnd.example.signature', 'sig');
  const sbom = mk('application/spdx+json', 'sbom');
  for (const b of [sig, sbom]) {
    const r = await req(`/v2/t/ref/manifests/${sha256(b)}`, { method: 'PUT', body: b, headers: { 'content-type': OCI_M } });
    assert.equal(r.status, 201, await r.text());
    assert.equal(r.headers.get('oci-subject'), subject.digest);
  }
  const all = await req(`/v2/t/ref/referrers/${subject.digest}`);
  assert.equal(all.status, 200);
  assert.equal(all.headers.get('content-type'), OCI_I);
  const idx = (await all.json()) as { manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[] };
  assert.deepEqual(idx.manifests.map((m) => m.digest).sort(), [sha256(sig), sha256(sbom)].sort());
  assert.ok(idx.manifests.every((m) => m.annotations['note']));
  const f = await req(`/v2/t/ref/referrers/${subject.digest}?artifactType=application/spdx%2Bjson`);
  assert.equal(f.headers.get('oci-filters-applied'), 'artifactType');
  assert.deepEqual(((await f.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [sha256(sbom)]);
  const none = await req(`/v2/t/ref/referrers/${sha256('nothing refers to me')}`);
  assert.equal(none.status, 200);
  assert.deepEqual(await none.json(), { schemaVersion: 2, mediaType: OCI_I, manifests: [] });
  assert.equal(await errorCode(await req('/v2/t/ref/referrers/sha256:bad')), 'DIGEST_INVALID');
  // Deleting a referrer takes it off the list.
  assert.equal((await req(`/v2/t/ref/manifests/${sha256(sig)}`, { method: 'DELETE' })).status, 202);
  const after = (await (await req(`/v2/t/ref/referrers/${subject.digest}`)).json()) as { manifests: unknown[] };
  assert.equal(after.manifests.length, 1);
});

test('_catalog: every repository, paginated', async () => {
  await pushImage('cat/a', 'x');
  await pushImage('cat/b', 'x');
  await pushImage('cat/c/deep', 'x');
  const all = (await (await req('/v2/_catalog')).json()) as { repositories: string[] };
  for (const n of ['cat/a', 'cat/b', 'cat/c/deep']) assert.ok(all.repositories.includes(n), n);
  assert.deepEqual(all.repositories, [...all.repositories].sort());
  const p = await req('/v2/_catalog?n=1&last=cat/a');
  assert.deepEqual(await p.json(), { repositories: ['cat/b'] });
  assert.equal(p.headers.get('link'), '</v2/_catalog?n=1&last=cat%2Fb>; rel="next"');
});

test('deleting a whole repository (extension route) leaves others, nested ones included', async () => {
  await pushImage('gone/repo', 'x');
  await pushImage('gone/repo/nested', 'x');
  const d = await req('/v2/_cunik/repositories/gone/repo', { method: 'DELETE' });
  assert.equal(d.status, 202);
  assert.equal(await errorCode(await req('/v2/gone/repo/tags/list')), 'NAME_UNKNOWN');
  assert.equal((await req('/v2/gone/repo/nested/manifests/x')).status, 200);
  const again = await req('/v2/_cunik/repositories/gone/repo', { method: 'DELETE' });
  assert.equal(await errorCode(again), 'NAME_UNKNOWN');
  assert.deepEqual(storeProblems(hub.root), []);
});

test('invalid names: uppercase, "..", empty components, too long are NAME_INVALID', async () => {
  // Sent as written (fetch would resolve "..").
  const raw = (path: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    request(`${hub.url}${path}`, { path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject).end();
  });
  for (const name of ['Upper/case', 'a/../b', '../../etc', 'a//b', 'x'.repeat(256), '-lead', 'a/.hidden', 'a/%2e%2e/b', 'a/./b']) {
    const r = await raw(`/v2/${name}/manifests/latest`);
    assert.equal(r.status, 400, name);
    assert.equal(JSON.parse(r.body).errors[0].code, 'NAME_INVALID', name);
  }
  const up = await req('/v2/Bad/blobs/uploads/', { method: 'POST' });
  assert.equal(await errorCode(up), 'NAME_INVALID');
  assert.deepEqual(storeProblems(hub.root), []);
});
