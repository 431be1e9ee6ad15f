import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConfig, parseAddr } from '../../src/hub/config.js';
import { parseContentRange, parseRange } from '../../src/hub/server.js';
import { checkDigest, checkName } from '../../src/hub/names.js';
import { paginate } from '../../src/hub/registry.js';
import { parseManifest } from '../../src/hub/media.js';

test('hub config: defaults, flags over the file, durations, auth rules; bad values named', () => {
  const d = buildConfig(undefined, {}, '/r');
  assert.deepEqual(d, { addr: { host: '127.0.0.1', port: 5000 }, root: '/r', deletes: true, gcGraceMs: 3600_000, uploadTimeoutMs: 3600_000, maxBlobBytes: 64 * 1024 ** 3 });
  const c = buildConfig('addr: 0.0.0.0:6000\nroot: /file\ngc: {grace: 30m}\nuploads: {timeout: 10s}\ndeletes: false\n', { root: '/flag' }, '/r');
  assert.deepEqual([c.addr, c.root, c.gcGraceMs, c.uploadTimeoutMs, c.deletes], [{ host: '0.0.0.0', port: 6000 }, '/flag', 1800_000, 10_000, false]);
  const a = buildConfig('auth:\n  htpasswd: /h\n  access:\n    - {user: alice, repository: "team/*", actions: [pull, push]}\n  anonymous:\n    - {repository: "public/**", actions: [pull]}\n', {}, '/r');
  assert.deepEqual(a.auth, { htpasswd: '/h', service: 'cunik-hub', tokenTtlSec: 300, access: [{ user: 'alice', repository: 'team/*', actions: ['pull', 'push'] }, { repository: 'public/**', actions: ['pull'] }] });
  const bad: [string | undefined, object, RegExp][] = [
    ['gc: {grace: soon}', {}, /config\.gc\.grace must be a duration/],
    ['colour: blue', {}, /unknown setting "colour"/],
    ['auth: {anonymous: [{repository: x, actions: [push]}]}', {}, /needs htpasswd/],
    ['auth: {htpasswd: /h, anonymous: [{repository: x, actions: [push]}]}', {}, /anonymous users may only pull/],
    [undefined, { tlsCert: '/c' }, /needs both a certificate/],
    [undefined, { tlsClientCa: '/ca' }, /client certificates \(--tls-client-ca\) need TLS/],
    [undefined, { addr: '1.2.3.4' }, /invalid address/],
    ['- a list', {}, /must be a YAML mapping/],
  ];
  assert.deepEqual(buildConfig('tls: {cert: /c, key: /k, clientCA: /ca}', {}, '/r').tls, { cert: '/c', key: '/k', clientCA: '/ca' });
  assert.deepEqual(buildConfig(undefined, { tlsCert: '/c', tlsKey: '/k' }, '/r').tls, { cert: '/c', key: '/k' });
  for (const [text, flags, re] of bad) assert.throws(() => buildConfig(text, flags, '/r'), re, String(text));
  assert.deepEqual(parseAddr('[::1]:5000'), { host: '::1', port: 5000 });
  assert.deepEqual(parseAddr(':5000'), { host: '0.0.0.0', port: 5000 });
});

test('hub ranges, names, digests, pages, manifests', () => {
  assert.deepEqual(parseContentRange('0-9'), { start: 0, end: 9 });
  assert.deepEqual(parseContentRange('bytes 10-19/*'), { start: 10, end: 19 });
  assert.throws(() => parseContentRange('9'), /malformed Content-Range/);
  assert.deepEqual(parseRange('bytes=0-', 10), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=5-100', 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
  assert.throws(() => parseRange('bytes=10-', 10), /outside/);
  assert.throws(() => parseRange('bytes=1-2,4-5', 10), /unsupported Range/);
  assert.equal(checkName('a/b-c/d__e.f'), 'a/b-c/d__e.f');
  for (const n of ['A', 'a/../b', 'a/', '', 'x'.repeat(256), '_a']) assert.throws(() => checkName(n), (e: { code: string }) => e.code === 'NAME_INVALID', n);
  for (const d of ['sha256:' + 'a'.repeat(63), 'sha256:' + 'G'.repeat(64), 'sha384:' + 'a'.repeat(96), '']) assert.throws(() => checkDigest(d), (e: { code: string }) => e.code === 'DIGEST_INVALID', d);
  assert.deepEqual(paginate(['a', 'b', 'c'], 2, undefined), { items: ['a', 'b'], next: 'b' });
  assert.deepEqual(paginate(['a', 'b', 'c'], 2, 'b'), { items: ['c'] });
  assert.deepEqual(paginate(['a', 'b'], 0, undefined), { items: [] });
  const d = 'sha256:' + 'a'.repeat(64);
  const m = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x/cfg', digest: d, size: 1 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar', digest: 'sha256:' + 'b'.repeat(64), size: 1, urls: ['http://x'] }] })), undefined);
  assert.deepEqual([m.mediaType, m.blobs, m.artifactType], ['application/vnd.oci.image.manifest.v1+json', [d], 'x/cfg']);
});
