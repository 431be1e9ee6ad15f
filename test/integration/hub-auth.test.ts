// CunikHub auth: htpasswd users (bcrypt), Docker's token flow, per-repository scopes, anonymous
// pull by pattern; skopeo --creds and docker login (no daemon) as real clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hashSync } from '@node-rs/bcrypt';
import { SignJWT } from 'jose';
import { ociLayout, startHub, type TestHub } from '../helpers/hub.js';

const run = promisify(execFile);
const opts = { timeout: 120_000 };
const TLS = ['--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests'];
let hub: TestHub;
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

before(async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'cunik-hub-auth-'));
  writeFileSync(join(dir, 'htpasswd'), `alice:${hashSync('wonderland', 4).replace(/^\$2b\$/, '$2y$')}\nbob:${hashSync('builder', 4)}\ncarol:${hashSync('singer', 4)}\n`);
  hub = await startHub({
    dir,
    config: `auth:\n  htpasswd: ${join(dir, 'htpasswd')}\n  tokenTtl: 2s\n  access:\n    - {user: alice, repository: "**", actions: [pull, push, delete]}\n    - {user: bob, repository: "team/*", actions: [pull]}\n  anonymous:\n    - {repository: "public/**", actions: [pull]}\n`,
  });
});
after(async () => {
  await hub.stop();
  const { rm } = await import('node:fs/promises');
  await rm(hub.dir, { recursive: true, force: true });
});

async function token(scope: string, auth?: string): Promise<Response> {
  return fetch(`${hub.url}/token?service=cunik-hub&scope=${encodeURIComponent(scope)}`, auth ? { headers: { authorization: auth } } : {});
}

test('unauthenticated: 401 with a Bearer challenge naming realm, service and scope', async () => {
  const r = await fetch(`${hub.url}/v2/`);
  assert.equal(r.status, 401);
  assert.equal(((await r.json()) as { errors: { code: string }[] }).errors[0]!.code, 'UNAUTHORIZED');
  assert.equal(r.headers.get('www-authenticate'), `Bearer realm="${hub.url}/token",service="cunik-hub"`);
  const m = await fetch(`${hub.url}/v2/team/app/manifests/v1`);
  assert.equal(m.status, 401);
  assert.match(m.headers.get('www-authenticate')!, /scope="repository:team\/app:pull"/);
  await m.body?.cancel();
});

test('tokens: wrong password 401; scopes granted by the rules; expired and forged tokens refused; push without push scope', opts, async () => {
  const wrong = await token('repository:team/app:pull', basic('alice', 'nope'));
  assert.equal(wrong.status, 401);
  assert.equal(((await wrong.json()) as { errors: { code: string }[] }).errors[0]!.code, 'UNAUTHORIZED');
  const bob = (await (await token('repository:team/app:pull,push', basic('bob', 'builder'))).json()) as { token: string };
  // bob may pull team/*, not push: the push is denied (403) with a spec body.
  const post = await fetch(`${hub.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${bob.token}` } });
  assert.equal(post.status, 403);
  assert.equal(((await post.json()) as { errors: { code: string }[] }).errors[0]!.code, 'DENIED');
  const pull = await fetch(`${hub.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${bob.token}` } });
  assert.equal(pull.status, 404); // allowed; the repository does not exist yet
  await pull.body?.cancel();
  // A pull-only token of alice's, used to push: 401 insufficient_scope (she may get a better one).
  const alicePull = (await (await token('repository:team/app:pull', basic('alice', 'wonderland'))).json()) as { token: string };
  const p2 = await fetch(`${hub.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${alicePull.token}` } });
  assert.equal(p2.status, 401);
  assert.match(p2.headers.get('www-authenticate')!, /error="insufficient_scope"/);
  await p2.body?.cancel();
  const forged = await new SignJWT({ access: [{ type: 'repository', name: 'team/app', actions: ['push'] }] })
    .setProtectedHeader({ alg: 'HS256' }).setIssuer('cunik-hub').setAudience('cunik-hub').setSubject('alice').setExpirationTime('5m')
    .sign(new Uint8Array(32));
  const f = await fetch(`${hub.url}/v2/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${forged}` } });
  assert.equal(f.status, 401);
  assert.match(((await f.json()) as { errors: { message: string }[] }).errors[0]!.message, /not valid/);
  // Tokens live tokenTtl (2 s here).
  const ok = await fetch(`${hub.url}/v2/`, { headers: { authorization: `Bearer ${alicePull.token}` } });
  assert.equal(ok.status, 200);
  await new Promise((r) => setTimeout(r, 3100));
  const expired = await fetch(`${hub.url}/v2/`, { headers: { authorization: `Bearer ${alicePull.token}` } });
  assert.equal(expired.status, 401);
  assert.match(((await expired.json()) as { errors: { message: string }[] }).errors[0]!.message, /expired/);
});

test('skopeo --creds pushes and pulls; anonymous pull only where allowed; docker login', opts, async () => {
  const src = ociLayout(join(hub.dir, 'src'), { tag: 'v', layerSizes: [2000] });
  await run('skopeo', ['copy', '--quiet', ...TLS, '--dest-creds', 'alice:wonderland', `oci:${src.dir}:v`, `docker://${hub.host}/public/app:v`]);
  await run('skopeo', ['copy', '--quiet', ...TLS, '--dest-creds', 'alice:wonderland', `oci:${src.dir}:v`, `docker://${hub.host}/team/app:v`]);
  const bad = await run('skopeo', ['copy', '--quiet', ...TLS, '--dest-creds', 'alice:wrong', `oci:${src.dir}:v`, `docker://${hub.host}/team/app:w`]).then(() => 'ok', (e: { stderr: string }) => e.stderr);
  assert.match(bad, /401|unauthorized|authentication required/i);
  const denied = await run('skopeo', ['copy', '--quiet', ...TLS, '--dest-creds', 'bob:builder', `oci:${src.dir}:v`, `docker://${hub.host}/team/app:b`]).then(() => 'ok', (e: { stderr: string }) => e.stderr);
  assert.match(denied, /denied|403/i);
  // Anonymous: public/** only.
  const info = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', '--no-creds', `docker://${hub.host}/public/app:v`])).stdout);
  assert.equal(info.Digest, src.digest);
  const anon = await run('skopeo', ['inspect', '--tls-verify=false', '--no-creds', `docker://${hub.host}/team/app:v`]).then(() => 'ok', (e: { stderr: string }) => e.stderr);
  assert.match(anon, /denied: anonymous may not pull team\/app/);
  const bobInfo = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', '--creds', 'bob:builder', `docker://${hub.host}/team/app:v`])).stdout);
  assert.equal(bobInfo.Digest, src.digest);
  const tags = JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', '--creds', 'bob:builder', `docker://${hub.host}/team/app`])).stdout);
  assert.deepEqual(tags.Tags, ['v']);
  const noTags = await run('skopeo', ['list-tags', '--tls-verify=false', '--no-creds', `docker://${hub.host}/team/app`]).then(() => 'ok', (e: { stderr: string }) => e.stderr);
  assert.match(noTags, /403 \(Forbidden\)/);
  const wrongTags = await run('skopeo', ['list-tags', '--tls-verify=false', '--creds', 'bob:wrong', `docker://${hub.host}/team/app`]).then(() => 'ok', (e: { stderr: string }) => e.stderr);
  assert.match(wrongTags, /401|unauthorized|authentication required|wrong user name/i);
  // docker login needs no daemon for a registry: it checks the credentials against /v2/.
  const env = { ...process.env, DOCKER_CONFIG: join(hub.dir, 'docker') };
  const login = spawnSync('docker', ['login', '-u', 'alice', '--password-stdin', hub.host], { env, input: 'wonderland\n', encoding: 'utf8' });
  assert.equal(login.status, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);
  const refused = spawnSync('docker', ['login', '-u', 'alice', '--password-stdin', hub.host], { env, input: 'wrong\n', encoding: 'utf8' });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /unauthorized|wrong user name or password/i);
});

test('TLS: --tls-cert/--tls-key serve HTTPS (skopeo pushes and inspects over it)', opts, async () => {
  const dir = join(hub.dir, 'tls');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  const secure = await startHub({ dir, args: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')] });
  try {
    assert.match(secure.url, /^https:\/\//);
    const src = ociLayout(join(dir, 'src'), { tag: 'v', layerSizes: [500] });
    await run('skopeo', ['copy', '--quiet', '--dest-cert-dir', dir, '--preserve-digests', `oci:${src.dir}:v`, `docker://${secure.host}/tls/app:v`], { env: { ...process.env, SSL_CERT_FILE: join(dir, 'cert.pem') } });
    const info = JSON.parse((await run('skopeo', ['inspect', `docker://${secure.host}/tls/app:v`], { env: { ...process.env, SSL_CERT_FILE: join(dir, 'cert.pem') } })).stdout);
    assert.equal(info.Digest, src.digest);
  } finally {
    await secure.stop();
  }
});

test("token endpoint, Docker's OAuth2 form: POST password and refresh_token grants; GET offline_token gives a refresh token", opts, async () => {
  const post = (form: Record<string, string>) => fetch(`${hub.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  const scope = 'repository:team/app:pull';
  const ok = await post({ grant_type: 'password', username: 'alice', password: 'wonderland', service: 'cunik-hub', scope, client_id: 'test', access_type: 'offline' });
  assert.equal(ok.status, 200);
  const body = (await ok.json()) as { access_token: string; refresh_token: string };
  const tags = await fetch(`${hub.url}/v2/team/app/tags/list`, { headers: { authorization: `Bearer ${body.access_token}` } });
  assert.notEqual(tags.status, 401);
  await tags.body?.cancel();
  const wrong = await post({ grant_type: 'password', username: 'alice', password: 'nope', service: 'cunik-hub', scope });
  assert.equal(wrong.status, 401);
  assert.equal(((await wrong.json()) as { errors: { code: string }[] }).errors[0]!.code, 'UNAUTHORIZED');
  const refreshed = await post({ grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'cunik-hub', scope });
  assert.equal(refreshed.status, 200);
  const again = (await refreshed.json()) as { access_token: string };
  assert.equal((await fetch(`${hub.url}/v2/`, { headers: { authorization: `Bearer ${again.access_token}` } })).status, 200);
  // A refresh token is no access token, and an access token no refresh token; a forged one is refused.
  const asAccess = await fetch(`${hub.url}/v2/`, { headers: { authorization: `Bearer ${body.refresh_token}` } });
  assert.equal(asAccess.status, 401);
  await asAccess.body?.cancel();
  const swapped = await post({ grant_type: 'refresh_token', refresh_token: body.access_token, service: 'cunik-hub' });
  assert.equal(swapped.status, 401);
  await swapped.body?.cancel();
  const forged = await new SignJWT({ use: 'refresh' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('cunik-hub').setAudience('cunik-hub/refresh').setSubject('alice').setExpirationTime('5m').sign(new Uint8Array(32));
  const f = await post({ grant_type: 'refresh_token', refresh_token: forged });
  assert.equal(f.status, 401);
  assert.match(((await f.json()) as { errors: { message: string }[] }).errors[0]!.message, /refresh token is not valid/);
  const unknown = await post({ grant_type: 'client_credentials' });
  assert.equal(unknown.status, 400);
  await unknown.body?.cancel();
  const offlineRes = await fetch(`${hub.url}/token?service=cunik-hub&offline_token=true&client_id=docker&scope=${encodeURIComponent(scope)}`, { headers: { authorization: basic('alice', 'wonderland') } });
  const offline = (await offlineRes.json()) as { refresh_token?: string };
  assert.equal(typeof offline.refresh_token, 'string');
  const online = (await (await token(scope, basic('alice', 'wonderland'))).json()) as { refresh_token?: string };
  assert.equal(online.refresh_token, undefined);
});

test('failed logins are limited per address and user: 429 TOOMANYREQUESTS with Retry-After, the password not even checked; other users unaffected', opts, async () => {
  for (let i = 0; i < 5; i++) {
    const r = await token('repository:team/app:pull', basic('carol', `guess${i}`));
    assert.equal(r.status, 401, `attempt ${i + 1}`);
    await r.body?.cancel();
  }
  // The right password now too: the address is refused for carol until the window ends.
  for (const r of [
    await token('repository:team/app:pull', basic('carol', 'singer')),
    await fetch(`${hub.url}/v2/`, { headers: { authorization: basic('carol', 'singer') } }),
    await fetch(`${hub.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&service=cunik-hub&client_id=t&username=carol&password=singer' }),
  ]) {
    assert.equal(r.status, 429);
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${r.headers.get('retry-after')}`);
    const body = (await r.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'TOOMANYREQUESTS');
    assert.match(body.errors[0]!.message, /^too many failed logins from this address: try again in \d+ s$/);
  }
  const bob = await token('repository:team/app:pull', basic('bob', 'builder'));
  assert.equal(bob.status, 200, 'another user from the same address still logs in');
  await bob.body?.cancel();
});
