import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackRegistry, parseChallenge } from '../../src/images/registry.js';
import { pickPlatform, remoteOf } from '../../src/images/distribution.js';
import { parseReference } from '../../src/images/reference.js';
import { MT } from '../../src/images/oci.js';
import { registryCAs, schemeFor } from '../../src/images/registry-transport.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('WWW-Authenticate challenges parse into scheme and parameters', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), {
    scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
  });
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', params: { realm: 'Registry Realm' } });
  assert.deepEqual(parseChallenge('Bearer realm=http://x/t, service=s'), { scheme: 'bearer', params: { realm: 'http://x/t', service: 's' } });
  assert.deepEqual(parseChallenge(''), { scheme: '', params: {} });
});

test('plain HTTP only for loopback registries by default', () => {
  for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000']) assert.ok(isLoopbackRegistry(h), h);
  for (const h of ['registry.example', 'localhost.example:5000', '10.0.0.1:5000', '127.0.0.1.example']) assert.ok(!isLoopbackRegistry(h), h);
});

test('a reference splits into registry and repository; a bare name needs the default registry', () => {
  assert.deepEqual(remoteOf(parseReference('localhost:5000/team/hello:1')), { domain: 'localhost:5000', repo: 'team/hello' });
  assert.deepEqual(remoteOf(parseReference('hub.example/hello@sha256:' + 'a'.repeat(64))), { domain: 'hub.example', repo: 'hello' });
  assert.deepEqual(remoteOf(parseReference('team/hello'), 'hub.example'), { domain: 'hub.example', repo: 'team/hello' });
  assert.throws(() => remoteOf(parseReference('team/hello')), /team\/hello names no registry/);
});

const d = (architecture: string, os: string, n: string) => ({ mediaType: MT.manifest, digest: `sha256:${n.repeat(64)}`, size: 1, platform: { architecture, os } });

test('an index gives its linux/amd64 entry, else an amd64 unikernel platform, else says what it has', () => {
  assert.equal(pickPlatform([d('arm64', 'linux', 'a'), d('amd64', 'linux', 'b')], 'x').digest, `sha256:${'b'.repeat(64)}`);
  assert.equal(pickPlatform([d('arm64', 'qemu', 'a'), d('amd64', 'qemu', 'c')], 'x').digest, `sha256:${'c'.repeat(64)}`);
  assert.throws(() => pickPlatform([d('arm64', 'linux', 'a'), d('riscv64', 'linux', 'b')], 'image index r/x:1'),
    /^Error: image index r\/x:1 has no image for linux\/amd64 \(it has linux\/arm64, linux\/riscv64\)$|image index r\/x:1 has no image for linux\/amd64 \(it has linux\/arm64, linux\/riscv64\)/);
  assert.throws(() => pickPlatform([], 'image index e'), /image index e has no image for linux\/amd64$/);
});

test('the scheme of a registry: HTTPS unless loopback or named insecure; HTTPS only once it has CAs', () => {
  const cases: [string, { insecure?: boolean; hasCA?: boolean }, 'http' | 'https'][] = [
    ['registry.example', {}, 'https'],
    ['registry.example:5000', {}, 'https'],
    ['10.1.2.3:5000', {}, 'https'],
    ['registry.lan:5000', { insecure: true }, 'http'],
    ['localhost:5000', {}, 'http'],
    ['127.0.0.1:5000', {}, 'http'],
    ['[::1]:5000', {}, 'http'],
    ['127.0.0.1:5000', { hasCA: true }, 'https'],
    ['registry.lan:5000', { insecure: true, hasCA: true }, 'https'],
  ];
  for (const [domain, o, want] of cases) assert.equal(schemeFor(domain, o), want, `${domain} ${JSON.stringify(o)}`);
});

test("a registry's CAs: every *.crt in certs.d/HOST:PORT/, none when the folder is missing", () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-certs-'));
  try {
    mkdirSync(join(dir, 'reg.example:5000'));
    writeFileSync(join(dir, 'reg.example:5000', 'ca.crt'), 'A');
    writeFileSync(join(dir, 'reg.example:5000', 'extra.crt'), 'B');
    assert.deepEqual(registryCAs(dir, 'reg.example:5000'), { folder: join(dir, 'reg.example:5000'), certs: [Buffer.from('A'), Buffer.from('B')] });
    // Docker's client pair: NAME.cert with NAME.key, never taken for a CA.
    writeFileSync(join(dir, 'reg.example:5000', 'client.key'), 'K');
    assert.throws(() => registryCAs(dir, 'reg.example:5000'), /client key .*client\.key has no certificate beside it \(client\.cert\)$/);
    writeFileSync(join(dir, 'reg.example:5000', 'client.cert'), 'C');
    assert.deepEqual(registryCAs(dir, 'reg.example:5000'), {
      folder: join(dir, 'reg.example:5000'), certs: [Buffer.from('A'), Buffer.from('B')], client: { cert: Buffer.from('C'), key: Buffer.from('K') },
    });
    writeFileSync(join(dir, 'reg.example:5000', 'other.cert'), 'C2');
    assert.throws(() => registryCAs(dir, 'reg.example:5000'), /several client certificates \(client\.cert, other\.cert\): keep one$/);
    rmSync(join(dir, 'reg.example:5000', 'client.key'));
    rmSync(join(dir, 'reg.example:5000', 'client.cert'));
    assert.throws(() => registryCAs(dir, 'reg.example:5000'), /client certificate .*other\.cert has no key beside it \(other\.key\)$/);
    rmSync(join(dir, 'reg.example:5000', 'other.cert'));
    assert.equal(registryCAs(dir, 'reg.example'), undefined, 'the port is part of the name, as in Docker');
    assert.equal(registryCAs(undefined, 'reg.example:5000'), undefined);
    assert.equal(registryCAs(dir, '../x'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
