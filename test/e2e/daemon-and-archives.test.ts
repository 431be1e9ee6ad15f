// The CLI starting its own daemon, Ctrl-C in a foreground run, and OCI archives other tools read.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, helloKernel, killInstances, repo, startDaemon, waitFor } from '../helpers/daemon.js';

test('with no daemon on the default socket, cunik starts one and says so on stderr', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cunik-auto-'));
  // Extra CA certificates are the daemon's business (registries), not the CLI's: node would warn
  // on stderr that this file cannot be loaded if the CLI loaded it.
  const caFile = join(dir, 'no-such-ca.pem');
  const env = { CUNIK_RUNTIME_DIR: join(dir, 'run'), CUNIK_ROOT: join(dir, 'root'), CUNIK_ACCEL: 'tcg', CUNIK_HOST: '', NODE_EXTRA_CA_CERTS: caFile };
  try {
    const first = await cli(['import', '--family', 'generic', helloKernel, 'hello'], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /^cunik: no daemon was running; started cunikd \(pid \d+, log .*cunikd\.log\)\n$/);
    assert.ok(existsSync(join(dir, 'run', 'cunik.sock')));
    const daemonPid = Number(readFileSync(join(dir, 'root', 'cunikd.pid'), 'utf8'));
    assert.ok(readFileSync(`/proc/${daemonPid}/environ`, 'utf8').split('\0').includes(`NODE_EXTRA_CA_CERTS=${caFile}`), 'the daemon gets the certificates');
    const run = await cli(['run', '--rm', 'hello', 'exit=2'], { env });
    assert.equal(run.code, 2);
    assert.equal(run.stderr, '', 'the second command finds the running daemon');
    assert.match(run.stdout, /Hello from the Cunik test kernel/);
  } finally {
    // The pid file stays (it is the root's lock, src/daemon/lock.ts): a stopped daemon empties it.
    const pidfile = join(dir, 'root', 'cunikd.pid');
    const pid = existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8')) : 0;
    if (pid > 0) {
      process.kill(pid, 'SIGTERM');
      await waitFor('daemon exit', () => readFileSync(pidfile, 'utf8') === '' || undefined);
    }
    killInstances(join(dir, 'root'));
    await rm(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C on a foreground run stops the instance', async () => {
  const d = await startDaemon();
  try {
    assert.equal((await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: d.socket })).code, 0);
    const p = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${d.socket}`, 'run', '--name', 'fg', 'hello', 'idle'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    await waitFor('ready', () => out.includes('ready') || undefined);
    p.kill('SIGINT');
    const code = await exited;
    assert.equal(typeof code, 'number');
    const [info] = JSON.parse((await cli(['inspect', 'fg'], { socket: d.socket })).stdout) as { state: string }[];
    assert.equal(info!.state, 'exited');
  } finally {
    await d.stop();
  }
});

test('save writes an OCI archive that skopeo reads; load brings it back into another daemon', async () => {
  const a = await startDaemon();
  const b = await startDaemon();
  try {
    assert.equal((await cli(['import', '--family', 'generic', '--arg', 'exit=4', helloKernel, 'demo/hello:1.0'], { socket: a.socket })).code, 0);
    const archive = join(a.dir, 'hello.tar');
    const saved = await cli(['save', '-o', archive, 'demo/hello:1.0'], { socket: a.socket });
    assert.equal(saved.code, 0, saved.stderr);

    const inspected = spawnSync('skopeo', ['inspect', `oci-archive:${archive}`], { encoding: 'utf8' });
    assert.equal(inspected.status, 0, inspected.stderr);
    const meta = JSON.parse(inspected.stdout) as { Labels: Record<string, string> };
    assert.equal(meta.Labels['org.cunik.family'], 'generic');

    const loaded = await cli(['load', '-i', archive], { socket: b.socket });
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /Loaded image: demo\/hello:1.0/);
    const run = await cli(['run', '--rm', 'demo/hello:1.0'], { socket: b.socket });
    assert.equal(run.code, 4, 'the default args travel with the image');

    const missing = await cli(['save', '-o', join(a.dir, 'none.tar'), 'nosuch'], { socket: a.socket });
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /^cunik: no such image: nosuch/);
    assert.equal(existsSync(join(a.dir, 'none.tar')), false);
    assert.equal(existsSync(join(a.dir, 'none.tar.partial')), false);
  } finally {
    await a.stop();
    await b.stop();
  }
});
