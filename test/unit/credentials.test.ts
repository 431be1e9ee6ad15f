import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialsFor, removeCredentials, storeCredentials } from '../../src/config/credentials.js';
import { bar, plainLine } from '../../src/cli/progress.js';

test("credentials: Cunik's config first (0600), Docker's auths read too, logout removes only Cunik's", () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-creds-'));
  const saved = { c: process.env['CUNIK_CONFIG'], d: process.env['DOCKER_CONFIG'] };
  process.env['CUNIK_CONFIG'] = join(dir, 'cunik', 'config.json');
  process.env['DOCKER_CONFIG'] = join(dir, 'docker');
  try {
    assert.equal(credentialsFor('localhost:5000'), undefined);
    mkdirSync(join(dir, 'docker'));
    writeFileSync(join(dir, 'docker', 'config.json'), JSON.stringify({ auths: {
      'https://hub.example/v1/': { auth: Buffer.from('dk:pw:with:colons').toString('base64') },
      'localhost:5000': { auth: Buffer.from('docker:old').toString('base64') },
    } }));
    assert.deepEqual(credentialsFor('hub.example'), { username: 'dk', password: 'pw:with:colons' });
    assert.deepEqual(credentialsFor('localhost:5000'), { username: 'docker', password: 'old' });
    storeCredentials('localhost:5000', { username: 'me', password: 's' });
    assert.equal(statSync(process.env['CUNIK_CONFIG']).mode & 0o777, 0o600);
    assert.deepEqual(credentialsFor('localhost:5000'), { username: 'me', password: 's' });
    assert.equal(removeCredentials('localhost:5000'), true);
    assert.equal(removeCredentials('localhost:5000'), false);
    assert.deepEqual(credentialsFor('localhost:5000'), { username: 'docker', password: 'old' });
    assert.deepEqual(JSON.parse(readFileSync(process.env['CUNIK_CONFIG'], 'utf8')), { auths: {} });
    writeFileSync(process.env['CUNIK_CONFIG'], '{not json');
    assert.throws(() => credentialsFor('x'), /config\.json is not valid JSON; fix or remove it$/);
  } finally {
    for (const [k, v] of [['CUNIK_CONFIG', saved.c], ['DOCKER_CONFIG', saved.d]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test('progress: plain lines leave out byte counts; bars fill', () => {
  assert.equal(plainLine({ status: 'Downloading', id: 'abc', progressDetail: { current: 1, total: 9 } }), undefined);
  assert.equal(plainLine({ status: 'Download complete', id: 'abc', progressDetail: { current: 9, total: 9 } }), 'abc: Download complete');
  assert.equal(plainLine({ status: 'Pushing', id: 'abc', progressDetail: { current: 0, total: 9 } }), undefined);
  assert.equal(plainLine({ status: 'Pulling from h/r' }), 'Pulling from h/r');
  assert.equal(plainLine({ aux: { ref: 'r', digest: 'd' } }), undefined);
  assert.equal(bar(5, 10, 10), '[=====>    ] 5B/10B');
  assert.equal(bar(2_500_000, 2_500_000, 4), '[====] 2.5MB/2.5MB');
});

test('progress on a terminal: one line per layer, redrawn in place with a bar', async () => {
  const { progressPrinter } = await import('../../src/cli/progress.js');
  let out = '';
  const tty = { isTTY: true, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const p = progressPrinter(tty);
  p({ status: 'Pulling from h/r', id: '1' });
  p({ status: 'Downloading', id: 'aaaaaaaaaaaa', progressDetail: { current: 5, total: 10 } });
  p({ status: 'Downloading', id: 'bbbbbbbbbbbb', progressDetail: { current: 1, total: 10 } });
  p({ status: 'Download complete', id: 'aaaaaaaaaaaa', progressDetail: { current: 10, total: 10 } });
  assert.ok(out.startsWith('Pulling from h/r 1\n'));
  assert.match(out, /\x1b\[2Kaaaaaaaaaaaa: Downloading \[=+>\s*\] 5B\/10B\n/);
  // The last redraw goes up two lines and rewrites both layers.
  assert.ok(out.endsWith('\x1b[2A\x1b[2Kaaaaaaaaaaaa: Download complete\n\x1b[2Kbbbbbbbbbbbb: Downloading [===>                          ] 1B/10B\n'), JSON.stringify(out.slice(-160)));
});

test('credential helpers: credHelpers per registry, then credsStore, then auths; Docker\'s get protocol; failures in one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-credhelper-'));
  const saved = { c: process.env['CUNIK_CONFIG'], d: process.env['DOCKER_CONFIG'], p: process.env['PATH'] };
  process.env['CUNIK_CONFIG'] = join(dir, 'cunik', 'config.json');
  process.env['DOCKER_CONFIG'] = join(dir, 'docker');
  process.env['PATH'] = `${join(dir, 'bin')}:${saved.p ?? ''}`;
  mkdirSync(join(dir, 'bin'));
  mkdirSync(join(dir, 'docker'));
  mkdirSync(join(dir, 'cunik'));
  // Two helpers as Docker's protocol has them: the action as argument, the registry on stdin, JSON out.
  const helper = (name: string, body: string): void => writeFileSync(join(dir, 'bin', `docker-credential-${name}`), `#!/bin/sh\nread reg\necho "$1 $reg" >> ${join(dir, `${name}.log`)}\n${body}\n`, { mode: 0o755 });
  helper('pass', `case "$reg" in
  hub.example:5000) echo '{"ServerURL":"hub.example:5000","Username":"helper-user","Secret":"s3cret:x"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac`);
  helper('store', `case "$reg" in
  other.example) echo '{"ServerURL":"other.example","Username":"store-user","Secret":"t"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac`);
  helper('broken', 'echo "error getting credentials - err: exec: dbus-launch not found" >&2; exit 1');
  const docker = (cfg: object): void => writeFileSync(join(dir, 'docker', 'config.json'), JSON.stringify(cfg));
  try {
    docker({
      credHelpers: { 'hub.example:5000': 'pass' }, credsStore: 'store',
      auths: { 'third.example': { auth: Buffer.from('file:pw').toString('base64') }, 'hub.example:5000': {} },
    });
    assert.deepEqual(credentialsFor('hub.example:5000'), { username: 'helper-user', password: 's3cret:x' });
    assert.deepEqual(readFileSync(join(dir, 'pass.log'), 'utf8'), 'get hub.example:5000\n');
    assert.deepEqual(credentialsFor('other.example'), { username: 'store-user', password: 't' }, 'credsStore for the rest');
    assert.deepEqual(credentialsFor('third.example'), { username: 'file', password: 'pw' }, 'the store has none: the auths entry');
    assert.equal(credentialsFor('none.example'), undefined);
    // Cunik's own config wins, and may name helpers too.
    writeFileSync(process.env['CUNIK_CONFIG'], JSON.stringify({ credHelpers: { 'other.example': 'pass' }, auths: {} }));
    assert.deepEqual(credentialsFor('other.example'), { username: 'store-user', password: 't' }, "Cunik's helper has none: Docker's store");
    writeFileSync(process.env['CUNIK_CONFIG'], JSON.stringify({ credsStore: 'pass' }));
    assert.deepEqual(credentialsFor('hub.example:5000'), { username: 'helper-user', password: 's3cret:x' });
    rmSync(process.env['CUNIK_CONFIG']);
    docker({ credsStore: 'broken' });
    assert.throws(() => credentialsFor('hub.example:5000'), /^Error: the credential helper docker-credential-broken failed for hub\.example:5000: error getting credentials - err: exec: dbus-launch not found$/);
    docker({ credsStore: 'missing' });
    assert.throws(() => credentialsFor('hub.example:5000'), /^Error: the credential helper docker-credential-missing named in .*config\.json is not on the PATH$/);
    docker({ credsStore: '../../bin/sh' });
    assert.throws(() => credentialsFor('hub.example:5000'), /names an invalid credential helper "\.\.\/\.\.\/bin\/sh"$/);
  } finally {
    for (const [k, v] of [['CUNIK_CONFIG', saved.c], ['DOCKER_CONFIG', saved.d], ['PATH', saved.p]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
