// The registry client and TLS: a CunikHub started here with --tls-cert/--tls-key (a CA and a
// server certificate made by openssl for 127.0.0.1), trusted through Docker's certs.d layout
// (DIR/HOST:PORT/ca.crt) and refused, in one line, without it or with another CA; a plain HTTP
// registry given a certs.d folder is named as not speaking HTTPS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/store.js';
import { pull, push } from '../../src/images/distribution.js';
import { helloKernel } from '../helpers/daemon.js';
import { startHub, type TestHub } from '../helpers/hub.js';
import { certsDirFor, makeClientCert, makeTestCA } from '../helpers/registry.js';
import { tempDir } from '../unit/images-fixtures.js';

const opts = { timeout: 60_000 };
const t = tempDir('cunik-distrib-tls-');
let n = 0;
const freshStore = (): ImageStore => new ImageStore(join(t.path, `s${n++}`), { knownFamilies: ['generic'] });
let hub: TestHub;
let plain: TestHub;
const pki = join(t.path, 'pki');

const certsDir = (name: string, host: string, ca: string): string => certsDirFor(join(t.path, name), host, ca);

before(async () => {
  await makeTestCA(join(pki, 'hub'));
  await makeTestCA(join(pki, 'other'));
  hub = await startHub({ args: ['--tls-cert', join(pki, 'hub', 'server.crt'), '--tls-key', join(pki, 'hub', 'server.key')] });
  plain = await startHub();
});
after(async () => {
  await hub?.stop();
  await plain?.stop();
  t.cleanup();
});

async function source(ref: string): Promise<{ store: ImageStore; digest: string }> {
  const store = freshStore();
  const d = await store.importKernel(helloKernel, ref, { family: 'generic', args: ['hello'], memoryMiB: 32 });
  return { store, digest: d.digest };
}

test('a TLS hub trusted through certs.d/HOST:PORT/ca.crt: push and pull over HTTPS, same digests', opts, async () => {
  assert.match(hub.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const certs = certsDir('certs-ok', hub.host, join(pki, 'hub', 'ca.crt'));
  const ref = `${hub.host}/tls/hello:1`;
  const a = await source(ref);
  const src = a.store.pushSource(ref);
  const blobs = src.blobs.length;
  src.release();
  const pushed = await push(a.store, ref, { certsDir: certs });
  assert.equal(pushed.uploaded, blobs, 'every blob uploaded');
  const b = freshStore();
  const got = await pull(b, ref, { certsDir: certs });
  assert.equal(got.digest, a.digest);
  assert.deepEqual(readFileSync(b.bootArtifacts(got.id).kernel!), readFileSync(helloKernel));
});

test('a TLS hub not trusted: without a certs.d folder, or with another CA in it, refused in one line; nothing stored', opts, async () => {
  const ref = `${hub.host}/tls/hello:1`;
  const b = freshStore();
  const none = join(t.path, 'certs-empty');
  mkdirSync(none, { recursive: true });
  // Loopback without CAs: plain HTTP, which a TLS server does not answer.
  await assert.rejects(pull(b, ref, { certsDir: none }), (err: Error) => {
    assert.match(err.message, new RegExp(`^registry ${hub.host} could not be reached over plain HTTP \\(\\w+\\): if it serves HTTPS, put its CA in ${none}/${hub.host}/ca\\.crt$`));
    return true;
  });
  const wrong = certsDir('certs-wrong', hub.host, join(pki, 'other', 'ca.crt'));
  await assert.rejects(pull(b, ref, { certsDir: wrong }), (err: Error) => {
    assert.match(err.message, new RegExp(`^registry ${hub.host}: its TLS certificate is not trusted \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\): put the CA that signed it in ${wrong}/${hub.host}/ca\\.crt$`));
    return true;
  });
  const a = await source(ref);
  await assert.rejects(push(a.store, ref, { certsDir: wrong }), /its TLS certificate is not trusted/);
  assert.deepEqual(b.list(), []);
  assert.deepEqual(readdirSync(join(b.dir, 'tmp')), []);
});

test('a plain HTTP registry with a certs.d folder is spoken to over HTTPS only, and named as not speaking it', opts, async () => {
  const certs = certsDir('certs-plain', plain.host, join(pki, 'hub', 'ca.crt'));
  await assert.rejects(pull(freshStore(), `${plain.host}/x/hello:1`, { certsDir: certs }), (err: Error) => {
    assert.match(err.message, new RegExp(`^registry ${plain.host} does not speak HTTPS, yet has CAs in ${certs}/${plain.host} \\(so HTTPS only\\): if it serves plain HTTP, remove that folder$`));
    return true;
  });
});

test('a hub requiring client certificates (--tls-client-ca): certs.d client.cert/client.key get in, none is refused in one line', opts, async () => {
  await makeTestCA(join(pki, 'clients'));
  const client = await makeClientCert(join(pki, 'clients'), join(pki, 'client'));
  const mtls = await startHub({ args: ['--tls-cert', join(pki, 'hub', 'server.crt'), '--tls-key', join(pki, 'hub', 'server.key'), '--tls-client-ca', join(pki, 'clients', 'ca.crt')] });
  try {
    const ref = `${mtls.host}/mtls/hello:1`;
    const a = await source(ref);
    const without = certsDir('certs-noclient', mtls.host, join(pki, 'hub', 'ca.crt'));
    await assert.rejects(push(a.store, ref, { certsDir: without }), (err: Error) => {
      assert.match(err.message, new RegExp(`^registry ${mtls.host.replace(/\./g, '\\.')} asks for a client certificate \\(\\w+\\): put client\\.cert and client\\.key in ${join(without, mtls.host).replace(/\./g, '\\.')}$`));
      return true;
    });
    const withCert = certsDir('certs-client', mtls.host, join(pki, 'hub', 'ca.crt'));
    copyFileSync(client.cert, join(withCert, mtls.host, 'client.cert'));
    copyFileSync(client.key, join(withCert, mtls.host, 'client.key'));
    const pushed = await push(a.store, ref, { certsDir: withCert });
    assert.ok(pushed.uploaded > 0);
    const b = freshStore();
    const got = await pull(b, ref, { certsDir: withCert });
    assert.equal(got.digest, a.digest);
    assert.deepEqual(readFileSync(b.bootArtifacts(got.id).kernel!), readFileSync(helloKernel));
    // A certificate without its key: one line naming the missing file.
    const half = certsDir('certs-halfclient', mtls.host, join(pki, 'hub', 'ca.crt'));
    copyFileSync(client.cert, join(half, mtls.host, 'client.cert'));
    await assert.rejects(pull(freshStore(), ref, { certsDir: half }), /client certificate .*client\.cert has no key beside it \(client\.key\)$/);
  } finally {
    await mtls.stop();
  }
});
