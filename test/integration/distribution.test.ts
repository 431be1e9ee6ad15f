// The registry client against real registries started here on 127.0.0.1: Debian's
// docker-registry (Docker Distribution 2.8) and CunikHub; and against small servers that
// misbehave (a corrupt blob, a connection cut mid-blob) or ask for Docker's token flow.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { hash } from '@node-rs/bcrypt';
import { ImageStore } from '../../src/images/store.js';
import { pull, push } from '../../src/images/distribution.js';
import { BLOB_RETRIES } from '../../src/images/blob-download.js';
import { helloKernel } from '../helpers/daemon.js';
import { startHub, storeProblems } from '../helpers/hub.js';
import { countingProxy, serve, startDockerRegistry } from '../helpers/registry.js';
import { multibootKernel, tempDir } from '../unit/images-fixtures.js';
import { MT } from '../../src/images/oci.js';
import { RegistryClient } from '../../src/images/registry.js';

const FAMILIES = ['generic'];
const opts = { timeout: 60_000 };
const t = tempDir('cunik-distrib-');
after(() => t.cleanup());
let n = 0;
const freshStore = (): ImageStore => new ImageStore(join(t.path, `s${n++}`), { knownFamilies: FAMILIES });
const tmpLeft = (s: ImageStore): string[] => readdirSync(join(s.dir, 'tmp'));
const blobsOf = (s: ImageStore): string[] => readdirSync(join(s.dir, 'blobs', 'sha256'));

async function source(ref: string): Promise<{ store: ImageStore; digest: string; id: string }> {
  const store = freshStore();
  const d = await store.importKernel(helloKernel, ref, { family: 'generic', args: ['hello'], memoryMiB: 32 });
  return { store, digest: d.digest, id: d.id };
}

async function roundTrip(host: string): Promise<void> {
  const ref = `${host}/team/hello:1.0`;
  const a = await source(ref);
  const pushed = await push(a.store, ref);
  assert.equal(pushed.digest, a.digest);
  assert.equal(pushed.uploaded, 3, 'config, the kernel\'s layer and the boot.json layer uploaded');
  const b = freshStore();
  const lines: string[] = [];
  const got = await pull(b, ref, { onProgress: (p) => lines.push(p.status) });
  assert.equal(got.digest, a.digest, 'same manifest digest');
  assert.equal(got.id, a.id, 'same image id');
  assert.equal(got.fetched, 3);
  assert.ok(lines.includes('Download complete'), lines.join('\n'));
  assert.deepEqual(b.inspect(ref).repoTags, [ref]);
  assert.deepEqual(readFileSync(b.bootArtifacts(got.id).kernel!), readFileSync(helloKernel));
  assert.deepEqual(tmpLeft(b), []);

  // Again: nothing fetched. A second push finds every blob there.
  const again = await pull(b, ref);
  assert.equal(again.status, 'up to date');
  assert.equal(again.fetched, 0);
  const second = await push(a.store, ref);
  assert.equal(second.existed, 3);
  assert.equal(second.uploaded, 0);
}

test('push to docker-registry and pull back: same digests, same kernel bytes; nothing fetched twice', opts, async () => {
  const reg = await startDockerRegistry();
  try {
    await roundTrip(reg.host);
  } finally {
    await reg.stop();
  }
});

test('push to CunikHub and pull back', opts, async () => {
  const hub = await startHub();
  try {
    await roundTrip(hub.host);
  } finally {
    await hub.stop();
  }
});

test('a pull of a present image sends one manifest GET and no blob GET', opts, async () => {
  const reg = await startDockerRegistry();
  const proxy = await countingProxy(reg.host);
  try {
    const a = await source(`${proxy.host}/x/hello:1`);
    await push(a.store, `${proxy.host}/x/hello:1`);
    const b = freshStore();
    await pull(b, `${proxy.host}/x/hello:1`);
    const blobGets = (): number => proxy.log.filter((l) => l.method === 'GET' && l.path.includes('/blobs/')).length;
    assert.equal(blobGets(), 3);
    proxy.log.length = 0;
    const r = await pull(b, `${proxy.host}/x/hello:1`);
    assert.equal(r.status, 'up to date');
    assert.equal(blobGets(), 0, JSON.stringify(proxy.log));
    assert.deepEqual(proxy.log.map((l) => l.method), ['GET'], 'one manifest GET');
  } finally {
    await proxy.stop();
    await reg.stop();
  }
});

test('push mounts blobs from another repository of the same registry', opts, async () => {
  const reg = await startDockerRegistry();
  try {
    const a = await source(`${reg.host}/one/hello:1`);
    await push(a.store, `${reg.host}/one/hello:1`);
    a.store.tag(`${reg.host}/one/hello:1`, `${reg.host}/two/hello:1`);
    const r = await push(a.store, `${reg.host}/two/hello:1`);
    assert.equal(r.mounted, 3);
    assert.equal(r.uploaded, 0);
    const b = freshStore();
    assert.equal((await pull(b, `${reg.host}/two/hello:1`)).digest, a.digest);
  } finally {
    await reg.stop();
  }
});

// A server replaying a real image's manifest and config, with `layer` deciding the layer's answer.
async function fakeRegistry(layer: (res: import('node:http').ServerResponse, bytes: Buffer) => void) {
  const a = await source('fake/hello:1');
  const src = a.store.pushSource('fake/hello:1');
  const [config, lay] = src.blobs;
  const blobs = new Map(src.blobs.map((b) => [b.digest, readFileSync(b.path)]));
  src.release();
  const peer = await serve((req, res) => {
    const url = req.url!;
    if (url === '/v2/bad/hello/manifests/1') {
      res.writeHead(200, { 'content-type': src.mediaType, 'content-length': src.manifest.length });
      res.end(src.manifest);
    } else if (url === `/v2/bad/hello/blobs/${config!.digest}`) {
      res.end(blobs.get(config!.digest));
    } else if (url === `/v2/bad/hello/blobs/${lay!.digest}`) {
      layer(res, blobs.get(lay!.digest)!);
    } else if (url.startsWith('/v2/bad/hello/blobs/') && blobs.has(url.slice('/v2/bad/hello/blobs/'.length))) {
      res.end(blobs.get(url.slice('/v2/bad/hello/blobs/'.length))); // the cunik/boot.json layer, whole
    } else {
      res.writeHead(404).end();
    }
  });
  return peer;
}

test('a registry serving a layer whose bytes do not match its digest: one clear error, nothing stored', opts, async () => {
  const peer = await fakeRegistry((res, bytes) => {
    const bad = Buffer.from(bytes);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    res.writeHead(200, { 'content-length': bad.length });
    res.end(bad);
  });
  try {
    const b = freshStore();
    await assert.rejects(pull(b, `${peer.host}/bad/hello:1`), (err: Error) => {
      assert.match(err.message, /^pull .*bad\/hello:1: blob sha256:[a-f0-9]{64} from .*: digest mismatch \(content is sha256:[a-f0-9]{64}\)$/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    assert.deepEqual(b.list(), []);
    assert.deepEqual(blobsOf(b), []);
    assert.deepEqual(tmpLeft(b), []);
  } finally {
    await peer.stop();
  }
});

test('a pull cut off mid-blob every time leaves nothing half-stored; a manifest that never ends is refused at 4 MiB', opts, async () => {
  let tries = 0;
  const ranges: (string | undefined)[] = [];
  const peer = await fakeRegistry((res, bytes) => {
    ranges.push(res.req.headers.range);
    // A registry without ranges (200 to a Range): every answer of the first pull stops halfway; the next pull's is whole.
    res.writeHead(200, { 'content-length': bytes.length });
    if (tries++ <= BLOB_RETRIES) res.write(bytes.subarray(0, bytes.length >> 1), () => res.destroy());
    else res.end(bytes);
  });
  const endless = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const more = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', more);
    };
    more();
  });
  try {
    await assert.rejects(pull(freshStore(), `${endless.host}/big/x:1`), /manifest .*big\/x:1 is larger than 4 MiB/);
    const b = freshStore();
    await assert.rejects(pull(b, `${peer.host}/bad/hello:1`), (err: Error) => {
      assert.match(err.message, /^pull .*: blob sha256:[a-f0-9]{64} from .*: the download failed after it started/);
      return true;
    });
    assert.deepEqual(b.list(), []);
    assert.deepEqual(blobsOf(b), []);
    assert.deepEqual(tmpLeft(b), []);
    assert.equal(tries, BLOB_RETRIES + 1, 'the blob was asked for again after each cut, then given up');
    assert.equal(ranges[0], undefined);
    assert.match(ranges[1] ?? '', /^bytes=\d+-$/, 'the retry asked for the rest');
    const again = await pull(b, `${peer.host}/bad/hello:1`);
    assert.equal(again.fetched, 3);
    // (Whatever the cut pull kept is asked for with Range first; this registry answers 200 and the file starts over.)
    assert.deepEqual(readdirSync(join(b.dir, 'partial')), []);
    assert.deepEqual(b.list().map((i) => i.repoTags), [[`${peer.host}/bad/hello:1`]]);
    assert.deepEqual(tmpLeft(b), []);
  } finally {
    await endless.stop();
    await peer.stop();
  }
});

test('basic auth (docker-registry htpasswd): no or wrong credentials refused in one line, right ones work', opts, async () => {
  const reg = await startDockerRegistry({ htpasswd: `alice:${await hash('s3cret', 5)}\n` });
  try {
    const ref = `${reg.host}/auth/hello:1`;
    const a = await source(ref);
    await assert.rejects(push(a.store, ref), /requires a login: cunik login 127\.0\.0\.1:\d+$/);
    await assert.rejects(push(a.store, ref, { credentials: { username: 'alice', password: 'nope' } }), /refused access/);
    await push(a.store, ref, { credentials: { username: 'alice', password: 's3cret' } });
    const b = freshStore();
    assert.equal((await pull(b, ref, { credentials: { username: 'alice', password: 's3cret' } })).digest, a.digest);
  } finally {
    await reg.stop();
  }
});

test("Docker's token flow: a 401 with a Bearer challenge, a token for the scope, the request again", opts, async () => {
  const reg = await startDockerRegistry();
  const scopes: string[] = [];
  const tokens = await serve((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const basic = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    if (req.headers.authorization !== basic) return void res.writeHead(401).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    scopes.push(`${u.searchParams.get('service')} ${u.searchParams.get('scope')}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok-${u.searchParams.get('scope')}` }));
  });
  const proxy = await countingProxy(reg.host, (req, res) => {
    const want = req.method === 'GET' || req.method === 'HEAD' ? /^Bearer tok-repository:tk\/hello:pull/ : /^Bearer tok-repository:tk\/hello:pull,push$/;
    if (want.test(req.headers.authorization ?? '')) return true;
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${tokens.host}/token",service="test-registry",scope="repository:tk/hello:pull"`, 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    return false;
  });
  try {
    const ref = `${proxy.host}/tk/hello:1`;
    const a = await source(ref);
    const creds = { username: 'bob', password: 'pw' };
    await assert.rejects(push(a.store, ref, { credentials: { username: 'bob', password: 'bad' } }), /refused the credentials for bob$/);
    await push(a.store, ref, { credentials: creds });
    const b = freshStore();
    assert.equal((await pull(b, ref, { credentials: creds })).digest, a.digest);
    assert.ok(scopes.includes('test-registry repository:tk/hello:pull,push'), scopes.join('\n'));
    assert.ok(scopes.includes('test-registry repository:tk/hello:pull'), scopes.join('\n'));
  } finally {
    await proxy.stop();
    await tokens.stop();
    await reg.stop();
  }
});

test('a reference without a registry is refused in one line', opts, async () => {
  const b = freshStore();
  await assert.rejects(pull(b, 'hello:1'), /hello names no registry: write it as HOST\[:PORT\]\/hello/);
});

test('a multi-platform index: the linux/amd64 entry is pulled; an index without one is named', opts, async () => {
  const reg = await startDockerRegistry();
  try {
    const ref = `${reg.host}/multi/hello:1`;
    const a = await source(ref);
    await push(a.store, ref);
    const src = a.store.pushSource(ref);
    src.release();
    const entry = (architecture: string) => ({ mediaType: src.mediaType, digest: a.digest, size: src.manifest.length, platform: { architecture, os: 'linux' } });
    const putIndex = async (tag: string, manifests: object[]): Promise<void> => {
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests });
      const res = await fetch(`http://${reg.host}/v2/multi/hello/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': MT.index }, body });
      assert.equal(res.status, 201, await res.text());
    };
    await putIndex('all', [entry('arm64'), entry('amd64')]);
    await putIndex('arm', [entry('arm64')]);
    const b = freshStore();
    const got = await pull(b, `${reg.host}/multi/hello:all`);
    assert.equal(got.digest, a.digest);
    assert.deepEqual(b.inspect(`${reg.host}/multi/hello:all`).repoTags, [`${reg.host}/multi/hello:all`]);
    await assert.rejects(pull(freshStore(), `${reg.host}/multi/hello:arm`), /image index .*multi\/hello:arm has no image for linux\/amd64 \(it has linux\/arm64\)/);
  } finally {
    await reg.stop();
  }
});

test('a push cut off mid-upload: one line, the registry shows nothing of the blob; the next push completes, byte-identical', opts, async () => {
  const hub = await startHub();
  // A kernel of 2 MiB, so the cut falls well inside the layer's upload.
  const kernel = join(t.path, 'big-kernel');
  writeFileSync(kernel, multibootKernel(2 * 1024 * 1024));
  const store = freshStore();
  const ref0 = 'cut/hello:1';
  await store.importKernel(kernel, ref0, { family: 'generic', args: [], memoryMiB: 32 });
  const src = store.pushSource(ref0);
  const blobs = src.blobs.map((b) => ({ digest: b.digest, bytes: readFileSync(b.path) }));
  const manifest = src.manifest;
  src.release();
  const layer = blobs.reduce((x, y) => (y.bytes.length > x.bytes.length ? y : x));
  let cuts = 0;
  let forwarded = 0;
  const [hostname, port] = hub.host.split(':');
  const proxy = await countingProxy(hub.host, (req, res) => {
    if (!(req.method === 'PUT' && req.url!.includes('/blobs/uploads/') && decodeURIComponent(req.url!).includes(layer.digest) && cuts++ === 0)) return true;
    // The first upload of the layer: half its bytes reach the hub, then both connections drop.
    const up = httpRequest({ hostname, port: Number(port), method: 'PUT', path: req.url, headers: { ...req.headers, host: hub.host } });
    up.on('error', () => undefined);
    req.on('data', (c: Buffer) => {
      if (forwarded >= layer.bytes.length / 2) return;
      forwarded += c.length;
      up.write(c);
      if (forwarded >= layer.bytes.length / 2) {
        up.destroy();
        res.socket?.destroy();
      }
    });
    return false;
  });
  try {
    const ref = `${proxy.host}/cut/hello:1`;
    store.tag(ref0, ref);
    await assert.rejects(push(store, ref), (err: Error) => {
      assert.match(err.message, new RegExp(`^push ${ref}: blob ${layer.digest}: the upload failed after it started \\(\\w+\\); the registry keeps nothing of it: push again$`));
      return true;
    });
    assert.ok(forwarded > 0 && forwarded < layer.bytes.length, `${forwarded} of ${layer.bytes.length} bytes reached the hub`);
    const head = await fetch(`${hub.url}/v2/cut/hello/blobs/${layer.digest}`, { method: 'HEAD' });
    assert.equal(head.status, 404, 'no partial blob is visible');
    assert.equal((await fetch(`${hub.url}/v2/cut/hello/manifests/1`, { method: 'HEAD' })).status, 404);
    assert.deepEqual(storeProblems(hub.root), []);
    const again = await push(store, ref);
    assert.equal(again.uploaded + again.existed, blobs.length);
    assert.equal(again.uploaded >= 1, true, 'the layer is uploaded again');
    for (const b of blobs) {
      const got = Buffer.from(await (await fetch(`${hub.url}/v2/cut/hello/blobs/${b.digest}`)).arrayBuffer());
      assert.ok(got.equals(b.bytes), `${b.digest} is byte-identical in the registry`);
    }
    const m = await fetch(`${hub.url}/v2/cut/hello/manifests/1`, { headers: { accept: MT.manifest } });
    assert.ok(Buffer.from(await m.arrayBuffer()).equals(manifest));
    assert.deepEqual(storeProblems(hub.root), []);
  } finally {
    await proxy.stop();
    await hub.stop();
  }
});

test('search: a registry that refuses its catalog gets one line; anonymous users refused by CunikHub are told to log in', opts, async () => {
  const closed = await serve((req, res) => {
    if (req.url!.startsWith('/v2/_catalog')) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNSUPPORTED","message":"the catalog is not served"}]}');
    res.writeHead(200).end('{}');
  });
  const hubDir = join(t.path, 'hub-auth');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(hubDir);
  writeFileSync(join(hubDir, 'htpasswd'), `erin:${await hash('pw', 5)}\n`);
  const hub = await startHub({ dir: hubDir, config: `auth:\n  htpasswd: ${join(hubDir, 'htpasswd')}\n  access:\n    - {user: erin, repository: "**", actions: [pull, push]}\n` });
  try {
    const says = (re: RegExp) => (err: Error): boolean => {
      assert.match(err.message, re);
      return true;
    };
    await assert.rejects(new RegistryClient(closed.host, '').catalog(), says(new RegExp(`^registry ${closed.host} does not list its repositories \\(GET /v2/_catalog answered UNSUPPORTED: the catalog is not served\\): search needs a registry that serves its catalog`)));
    await assert.rejects(new RegistryClient(hub.host, '').catalog(), says(new RegExp(`^registry ${hub.host} requires a login: cunik login ${hub.host}$|^registry ${hub.host} does not let anonymous users list its repositories`)));
    const a = await source(`${hub.host}/team/hello:1`);
    await push(a.store, `${hub.host}/team/hello:1`, { credentials: { username: 'erin', password: 'pw' } });
    assert.deepEqual(await new RegistryClient(hub.host, '', { credentials: { username: 'erin', password: 'pw' } }).catalog(), ['team/hello']);
  } finally {
    await hub.stop();
    await closed.stop();
  }
});

/**
 * A proxy to `target` whose first answer to a GET of blob `digest` stops halfway (both connections
 * dropped); records each GET of that blob: its Range and the registry's status.
 */
async function cuttingProxy(target: string, digest: string) {
  const gets: { range: string | undefined; status: number }[] = [];
  const [hostname, port] = target.split(':');
  const peer = await serve((req, res) => {
    const blobGet = req.method === 'GET' && req.url!.endsWith(`/blobs/${digest}`);
    const up = httpRequest({ hostname, port: Number(port), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (ur) => {
      const h = { ...ur.headers };
      if (typeof h.location === 'string') h.location = h.location.replace(`http://${target}`, '');
      res.writeHead(ur.statusCode!, h);
      if (blobGet) gets.push({ range: req.headers.range, status: ur.statusCode! });
      if (!blobGet || gets.length > 1) return void ur.pipe(res);
      const half = Number(ur.headers['content-length']) >> 1;
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        if (sent >= half) return;
        const part = c.subarray(0, half - sent);
        sent += part.length;
        if (sent < half) return void res.write(part);
        ur.destroy();
        res.write(part, () => res.destroy());
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return { ...peer, gets };
}

test('a pull cut off mid-blob resumes with Range from the bytes staged (CunikHub and docker-registry answer 206), verified whole', opts, async () => {
  const kernel = join(t.path, 'resume-kernel');
  writeFileSync(kernel, multibootKernel(4 * 1024 * 1024));
  const hub = await startHub();
  const dr = await startDockerRegistry();
  try {
    for (const reg of [hub.host, dr.host]) {
      const ref = `${reg}/resume/big:1`;
      const a = freshStore();
      const imported = await a.importKernel(kernel, ref, { family: 'generic', args: [], memoryMiB: 32 });
      await push(a, ref);
      const src = a.pushSource(ref);
      const layer = src.blobs.reduce((x, y) => (y.size > x.size ? y : x));
      src.release();
      const proxy = await cuttingProxy(reg, layer.digest);
      try {
        const b = freshStore();
        const got = await pull(b, `${proxy.host}/resume/big:1`);
        assert.equal(got.digest, imported.digest, reg);
        assert.equal(proxy.gets.length, 2, `${reg}: the layer was asked for twice: ${JSON.stringify(proxy.gets)}`);
        assert.deepEqual(proxy.gets[0], { range: undefined, status: 200 });
        const from = Number(/^bytes=(\d+)-$/.exec(proxy.gets[1]!.range ?? '')?.[1]);
        assert.ok(from > 0 && from <= layer.size / 2, `${reg}: resumed from byte ${from} of ${layer.size}`);
        assert.equal(proxy.gets[1]!.status, 206, `${reg} served the rest`);
        assert.deepEqual(readFileSync(b.bootArtifacts(got.id).kernel!), readFileSync(kernel), 'the kernel byte-identical');
        assert.deepEqual(tmpLeft(b), []);
      } finally {
        await proxy.stop();
      }
    }
  } finally {
    await hub.stop();
    await dr.stop();
  }
});
