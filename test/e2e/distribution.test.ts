// cunik push / pull / login / logout / search as typed, between two daemons and real registries
// started here on 127.0.0.1 (Debian's docker-registry, CunikHub), then cunik run of the pulled image.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash } from '@node-rs/bcrypt';
import { spawn } from 'node:child_process';
import { cli, helloKernel, repo, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startHub } from '../helpers/hub.js';
import { certsDirFor, makeTestCA, startDockerRegistry } from '../helpers/registry.js';

const opts = { timeout: 180_000 };
const home = mkdtempSync(join(tmpdir(), 'cunik-distrib-home-'));
// No test reads or writes the user's own credentials.
const env = { CUNIK_CONFIG: join(home, 'cunik.json'), DOCKER_CONFIG: join(home, 'docker') };
after(() => rmSync(home, { recursive: true, force: true }));

/** The CLI on a pseudo-terminal (script(1)), as typed in a terminal: its output with the escapes. */
function onTerminal(socket: string, args: string[]): Promise<{ code: number; out: string }> {
  const line = [join(repo, 'bin', 'cunik'), '-H', `unix://${socket}`, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const p = spawn('script', ['-qec', line, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

async function pushPullRun(host: string, a: TestDaemon, b: TestDaemon): Promise<void> {
  const ref = `${host}/demo/hello:1.0`;
  const imp = await cli(['import', '--family', 'generic', helloKernel, ref], { socket: a.socket, env });
  assert.equal(imp.code, 0, imp.stderr);
  const pushed = await cli(['push', ref], { socket: a.socket, env });
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /^The push refers to repository \[127\.0\.0\.1:\d+\/demo\/hello\]$/m);
  assert.match(pushed.stdout, /^[a-f0-9]{12}: Pushed$/m);
  assert.match(pushed.stdout, /^1\.0: digest: sha256:[a-f0-9]{64} size: \d+$/m);
  const pulled = await cli(['pull', ref], { socket: b.socket, env });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stdout, /^[a-f0-9]{12}: Download complete$/m);
  const da = await a.client.inspectImage(ref);
  const db = await b.client.inspectImage(ref);
  assert.equal(db.digest, da.digest, 'byte-identical manifest');
  assert.equal(db.id, da.id, 'byte-identical config');
  assert.deepEqual(db.layers, da.layers);
  assert.match(pulled.stdout, new RegExp(`Digest: ${db.digest}\n${ref.replace(/\./g, '\\.')}\n$`));
  const again = await cli(['pull', ref], { socket: b.socket, env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Image is up to date/);
  const run = await cli(['run', '--rm', ref, 'exit=4'], { socket: b.socket, env });
  assert.equal(run.code, 4, run.stderr);
  assert.match(run.stdout, /Hello from the Cunik test kernel/);
  // The event logs: a push on one daemon, a pull on the other.
  const events = async (d: TestDaemon, action: string): Promise<{ action: string; attributes: { name?: string } }[]> => {
    const r = await cli(['events', '--since', '10m', '--until', '0s', '--format', 'json', '--filter', `event=${action}`], { socket: d.socket, env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };
  assert.deepEqual((await events(a, 'push')).map((e) => e.attributes.name), [ref]);
  assert.deepEqual((await events(b, 'pull')).map((e) => e.attributes.name), [ref]);
  // Bad input: one line, exit 125, nothing sent.
  const bad = await cli(['pull', `${host}/Demo/Hello`], { socket: b.socket, env });
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /^cunik: invalid reference format: repository name must be lowercase: .*\n$/);
  const bare = await cli(['pull', 'hello'], { socket: b.socket, env });
  assert.equal(bare.code, 125);
  assert.match(bare.stderr, /^cunik: hello names no registry: write it as HOST\[:PORT\]\/hello .*\n$/);
}

test('cunik push to docker-registry, cunik pull into a second daemon, cunik run of it', opts, async () => {
  const reg = await startDockerRegistry();
  const a = await startDaemon();
  const b = await startDaemon();
  try {
    await pushPullRun(reg.host, a, b);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await reg.stop();
  }
});

test('the same through CunikHub; cunik search lists it; run pulls a missing image (--pull never does not)', opts, async () => {
  const hub = await startHub();
  const a = await startDaemon();
  const b = await startDaemon();
  try {
    await pushPullRun(hub.host, a, b);
    const found = await cli(['search', hub.host, 'hel'], { env });
    assert.equal(found.code, 0, found.stderr);
    assert.equal(found.stdout, `NAME\n${hub.host}/demo/hello\n`);
    const c = await startDaemon();
    try {
      const ref = `${hub.host}/demo/hello:1.0`;
      const never = await cli(['run', '--rm', '--pull', 'never', ref], { socket: c.socket, env });
      assert.equal(never.code, 125);
      assert.match(never.stderr, /not found|no such image/i);
      const run = await cli(['run', '--rm', ref, 'exit=0'], { socket: c.socket, env });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`Unable to find image '${ref.replace(/\./g, '\\.')}' locally`));
      assert.match(run.stdout, /Hello from the Cunik test kernel/);
      const bad = await cli(['run', '--pull', 'sometimes', ref], { socket: c.socket, env });
      assert.equal(bad.code, 125);
    } finally {
      await c.stop();
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await hub.stop();
  }
});

test('cunik login --password-stdin stores credentials 0600 and push/pull use them; logout forgets them', opts, async () => {
  const reg = await startDockerRegistry({ htpasswd: `carol:${await hash('pa55', 5)}\n` });
  const a = await startDaemon();
  try {
    const ref = `${reg.host}/priv/hello:1`;
    assert.equal((await cli(['import', '--family', 'generic', helloKernel, ref], { socket: a.socket, env })).code, 0);
    const denied = await cli(['push', ref], { socket: a.socket, env });
    assert.equal(denied.code, 125);
    assert.match(denied.stderr, /^cunik: registry 127\.0\.0\.1:\d+ requires a login: cunik login 127\.0\.0\.1:\d+\n$/);
    const wrong = await cli(['login', '-u', 'carol', '--password-stdin', reg.host], { env, input: 'nope\n' });
    assert.equal(wrong.code, 125);
    assert.match(wrong.stderr, /^cunik: login to 127\.0\.0\.1:\d+: the registry refused these credentials \(.*\)\n$/);
    const ok = await cli(['login', '-u', 'carol', '--password-stdin', reg.host], { env, input: 'pa55\n' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Login Succeeded/);
    assert.equal(statSync(env.CUNIK_CONFIG).mode & 0o777, 0o600);
    assert.ok(JSON.parse(readFileSync(env.CUNIK_CONFIG, 'utf8')).auths[reg.host].auth);
    const pushed = await cli(['push', ref], { socket: a.socket, env });
    assert.equal(pushed.code, 0, pushed.stderr);
    const out = await cli(['logout', reg.host], { env });
    assert.equal(out.stdout, `Removing login credentials for ${reg.host}\n`);
    const after = await cli(['push', ref], { socket: a.socket, env });
    assert.equal(after.code, 125);
  } finally {
    await a.stop();
    await reg.stop();
  }
});

test('cunikd --default-registry: NAME pulls and pushes there, a local image of that name is used, not pulled; login/logout take it', opts, async () => {
  const hub = await startHub();
  const args = ['--accel', 'tcg', '--default-registry', hub.host];
  const a = await startDaemon({ args });
  const b = await startDaemon({ args });
  try {
    const info = JSON.parse((await cli(['info', '--format', 'json'], { socket: a.socket, env })).stdout);
    assert.equal(info.registry.default, hub.host);
    assert.match((await cli(['info'], { socket: a.socket, env })).stdout, new RegExp(`^Default Registry: ${hub.host}$`, 'm'));
    // A local image without a registry in its name runs as it is: nothing asks the registry for it.
    assert.equal((await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: a.socket, env })).code, 0);
    const local = await cli(['run', '--rm', 'hello', 'exit=0'], { socket: a.socket, env });
    assert.equal(local.code, 0, local.stderr);
    assert.doesNotMatch(local.stderr, /Unable to find image/);
    const catalog = async (): Promise<string[]> => ((await (await fetch(`${hub.url}/v2/_catalog`)).json()) as { repositories: string[] }).repositories;
    assert.deepEqual(await catalog(), []);
    // push NAME goes to the default registry, under the same path.
    assert.equal((await cli(['tag', 'hello', 'team/app:1'], { socket: a.socket, env })).code, 0);
    const pushed = await cli(['push', 'team/app:1'], { socket: a.socket, env });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, new RegExp(`^The push refers to repository \\[${hub.host}/team/app\\]$`, 'm'));
    assert.deepEqual(await catalog(), ['team/app']);
    // On a terminal (a pseudo-terminal made by script(1)): per-layer lines redrawn in place, with bars.
    assert.equal((await cli(['tag', 'hello', 'team/app:2'], { socket: a.socket, env })).code, 0);
    const ttyPush = await onTerminal(a.socket, ['push', 'team/app:2']);
    assert.equal(ttyPush.code, 0, ttyPush.out);
    assert.match(ttyPush.out, /\x1b\[2K[a-f0-9]{12}: Layer already exists\r?\n/);
    const ttyPull = await onTerminal(b.socket, ['pull', 'team/app:2']);
    assert.equal(ttyPull.code, 0, ttyPull.out);
    assert.match(ttyPull.out, /\x1b\[1A\x1b\[2K[a-f0-9]{12}: /, 'the layer block is redrawn in place');
    assert.match(ttyPull.out, /\x1b\[2K[a-f0-9]{12}: Download complete\r?\n/);
    // run NAME on another daemon pulls it from there, and keeps the name as written.
    const run = await cli(['run', '--rm', 'team/app:1', 'exit=0'], { socket: b.socket, env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /Unable to find image 'team\/app:1' locally/);
    assert.match(run.stderr, /Image is up to date/, 'the same image, pulled as team/app:2 before');
    assert.match(run.stdout, /Hello from the Cunik test kernel/);
    assert.deepEqual((await b.client.inspectImage('team/app:1')).repoTags, ['team/app:1', 'team/app:2']);
    assert.equal((await b.client.inspectImage('team/app:1')).digest, (await a.client.inspectImage('team/app:1')).digest);
    const again = await cli(['pull', 'team/app:1'], { socket: b.socket, env });
    assert.match(again.stdout, /Image is up to date/);
    const missing = await cli(['pull', 'team/none:1'], { socket: b.socket, env });
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, new RegExp(`^cunik: manifest ${hub.host}/team/none:1: not found in ${hub.host}/team/none \\(NAME_UNKNOWN`));
    // login and logout without a registry use the default one.
    const login = await cli(['login', '-u', 'someone', '--password-stdin'], { socket: a.socket, env, input: 'pw\n' });
    assert.equal(login.code, 0, login.stderr);
    assert.ok(JSON.parse(readFileSync(env.CUNIK_CONFIG, 'utf8')).auths[hub.host]);
    const logout = await cli(['logout'], { socket: a.socket, env });
    assert.equal(logout.stdout, `Removing login credentials for ${hub.host}\n`);
    // Bad input: a flag value that is no registry host.
    const bad = await startDaemon({ args: ['--accel', 'tcg', '--default-registry', 'not a host'] }).then(() => 'started', (e: Error) => e.message);
    assert.match(bad, /--default-registry.*give a registry as HOST\[:PORT\], got "not a host"/);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await hub.stop();
  }
});

test('a TLS hub with auth: cunik login over HTTPS with the CA in certs.d, cunikd --registry-certs pushes and pulls; without the CA one line', opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-distrib-tls-'));
  const pki = await makeTestCA(join(dir, 'pki'));
  writeFileSync(join(dir, 'htpasswd'), `dave:${await hash('tl5', 5)}\n`);
  const hub = await startHub({
    dir,
    args: ['--tls-cert', pki.cert, '--tls-key', pki.key],
    config: `auth:\n  htpasswd: ${join(dir, 'htpasswd')}\n  access:\n    - {user: dave, repository: "**", actions: [pull, push]}\n`,
  });
  const certs = certsDirFor(join(dir, 'certs.d'), hub.host, pki.ca);
  const tlsEnv = { ...env, CUNIK_REGISTRY_CERTS: certs };
  const a = await startDaemon({ args: ['--accel', 'tcg', '--registry-certs', certs] });
  const b = await startDaemon({ args: ['--accel', 'tcg'], env: { CUNIK_REGISTRY_CERTS: join(dir, 'none') } });
  try {
    assert.match((await cli(['info'], { socket: a.socket, env })).stdout, new RegExp(`^Registry Certificates: ${certs}$`, 'm'));
    const untrusted = await cli(['login', '-u', 'dave', '--password-stdin', hub.host], { env: { ...env, CUNIK_REGISTRY_CERTS: join(dir, 'none') }, input: 'tl5\n' });
    assert.equal(untrusted.code, 125);
    assert.match(untrusted.stderr, /^cunik: registry 127\.0\.0\.1:\d+ could not be reached over plain HTTP \(\w+\): if it serves HTTPS, put its CA in .*\/none\/127\.0\.0\.1:\d+\/ca\.crt\n$/);
    const login = await cli(['login', '-u', 'dave', '--password-stdin', hub.host], { env: tlsEnv, input: 'tl5\n' });
    assert.equal(login.code, 0, login.stderr);
    const ref = `${hub.host}/secure/hello:1`;
    assert.equal((await cli(['import', '--family', 'generic', helloKernel, ref], { socket: a.socket, env })).code, 0);
    const pushed = await cli(['push', ref], { socket: a.socket, env: tlsEnv });
    assert.equal(pushed.code, 0, pushed.stderr);
    const pulled = await cli(['pull', ref], { socket: a.socket, env: tlsEnv });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, /Image is up to date/);
    // A daemon whose certs.d does not hold the hub's CA: one line, nothing stored.
    const refused = await cli(['pull', ref], { socket: b.socket, env: tlsEnv });
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /^cunik: registry 127\.0\.0\.1:\d+ could not be reached over plain HTTP/);
    assert.deepEqual(await b.client.listImages(), []);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
