// cunikd as typed: --host takes the CLI's address forms, and a root it cannot use is one line and a
// non-zero exit, at once (it used to hang under /proc, and call a read-only file system ENOENT).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CunikClient } from '../../src/client/index.js';
import { DAEMON_NODE_FLAGS } from '../../src/config/defaults.js';
import { repo, waitFor } from '../helpers/daemon.js';

const cunikd = join(repo, 'bin', 'cunikd.js');
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cunik-flags-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

/** Run cunikd (optionally under another command, e.g. unshare) that must fail; killed after 10 s. */
function failing(args: string[], wrap: string[] = []): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const argv = [...wrap, process.execPath, ...DAEMON_NODE_FLAGS, cunikd, '--accel', 'tcg', ...args];
  const p = spawn(argv[0]!, argv.slice(1), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  return new Promise((resolve) =>
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    }),
  );
}

async function refused(args: string[], message: RegExp, wrap: string[] = []): Promise<void> {
  const r = await failing(args, wrap);
  assert.notEqual(r.code, null, `cunikd ${args.join(' ')} did not exit within 10 s: ${r.stderr}`);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^cunikd: [^\n]+\n$/, `one line: ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, message);
}

test('a root under /proc is refused at once', () =>
  refused(['--root', '/proc/cunik-x', '--host', join(dir, 'p.sock')], /^cunikd: cannot use \/proc\/cunik-x as the root: \/proc does not take new directories/));

test('a root on a read-only file system says so', () =>
  // A private mount namespace: the read-only tmpfs is gone with the process, whatever happens.
  refused(['--root', join(dir, 'ro', 'root'), '--host', join(dir, 'r.sock')], /cannot use .*\/ro\/root as the root: .*\/ro is on a read-only file system/, [
    'unshare', '-m', 'sh', '-c', `mkdir -p '${join(dir, 'ro')}' && mount -t tmpfs -o ro,size=64k tmpfs '${join(dir, 'ro')}' && exec "$@"`, 'sh',
  ]));

test('an existing read-only root directory says so too', () =>
  refused(['--root', join(dir, 'ro2'), '--host', join(dir, 'r2.sock')], /cannot use .*\/ro2 as the root: .*\/ro2 is on a read-only file system/, [
    'unshare', '-m', 'sh', '-c', `mkdir -p '${join(dir, 'ro2')}' && mount -t tmpfs -o ro,size=64k tmpfs '${join(dir, 'ro2')}' && exec "$@"`, 'sh',
  ]));

test('a root that is a file, or under one, is refused', async () => {
  await writeFile(join(dir, 'plain'), 'x');
  await refused(['--root', join(dir, 'plain'), '--host', join(dir, 'f.sock')], /cannot use .*\/plain as the root: .*\/plain is not a directory/);
  await refused(['--root', join(dir, 'plain', 'below'), '--host', join(dir, 'f.sock')], /cannot use .*\/plain\/below as the root: .*\/plain is not a directory/);
});

test('--default-network: user or bridge, and bridge only for a daemon running as root (nothing made)', async () => {
  const bad = await failing(['--root', join(dir, 'n'), '--host', join(dir, 'n.sock'), '--default-network', 'host']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /argument 'host' is invalid\. Allowed choices are user, bridge\.\n$/);
  await refused(['--root', join(dir, 'n'), '--host', join(dir, 'n.sock'), '--default-network', 'bridge'], /^cunikd: --default-network bridge needs a daemon running as root \(this one is not\): bridge networks do\n$/, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
  assert.equal(existsSync(join(dir, 'n')), false, 'nothing made');
});

test('a bad --tcg-tb-size is one line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cunikd-tb-'));
  try {
    for (const v of ['-1', '1.5', 'big', '4096']) await refused(['--root', join(dir, 'r'), '--host', join(dir, 's.sock'), '--tcg-tb-size', v], /--tcg-tb-size.*give a number of MiB, 0-2048/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad --host addresses are one line', async () => {
  await refused(['--root', join(dir, 'h'), '--host', 'unix://'], /^cunikd: invalid host "unix:\/\/": no socket path after unix:\/\//);
  await refused(['--root', join(dir, 'h'), '--host', 'tcp://1.2.3.4:2375'], /^cunikd: invalid host "tcp:\/\/1\.2\.3\.4:2375": tcp:\/\/ hosts need TLS/);
  await refused(['--root', join(dir, 'h'), '--host', 'sock'], /^cunikd: invalid host "sock": expected unix:\/\/\/path\/to\/socket or an absolute path/);
});

test('--host unix:///path listens on /path, as the CLI connects to it', async () => {
  const socket = join(dir, 'u.sock');
  const p = spawn(process.execPath, [...DAEMON_NODE_FLAGS, cunikd, '--accel', 'tcg', '--root', join(dir, 'uroot'), '--host', `unix://${socket}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new CunikClient(socket);
  try {
    await waitFor(`cunikd listening on ${socket} (${stderr})`, () => client.ping().then(() => true, () => undefined), 30_000);
    // The line is written once the socket is ready: a ping may get there first.
    await waitFor(`the "listening on" line (${stderr})`, () => new RegExp(`listening on ${socket} `).test(stderr) || undefined);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('unix')), [], 'no file named after the scheme');
  } finally {
    client.close();
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await gone;
  }
  assert.equal(existsSync(socket), false, 'the socket is removed at shutdown');
});
