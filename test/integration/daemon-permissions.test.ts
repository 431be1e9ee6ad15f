// The daemon's root is its own all the way down and its socket is root:GROUP 0660 (src/daemon/
// permissions.ts): with images, a build cache, an instance's record and console, a volume and
// files an older daemon left loose, neither a member of the socket's group nor any other user can
// read or list anything under the root; a member can use the socket, a non-member cannot.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { buildImage } from '../../src/client/build.js';
import { cli, helloKernel, repo, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { tarBytes } from '../fixtures/build/oci-archive.js';

const tag = `ckt${process.pid}`;
const group = `${tag}g`;
const member = `${tag}m`;
let base: string;
let d: TestDaemon;
let gid: number;

before(async () => {
  execFileSync('groupadd', [group]);
  execFileSync('useradd', ['--no-create-home', '--gid', group, '--shell', '/usr/sbin/nologin', member]);
  gid = Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
  // The socket must be reachable by path: a folder everyone may pass through.
  base = mkdtempSync(join(tmpdir(), 'cunik-perm-'));
  chmodSync(base, 0o755);
  // What an older daemon (umask 022, root 0711) left behind.
  const root = join(base, 'root');
  mkdirSync(join(root, 'legacy'), { recursive: true, mode: 0o755 });
  chmodSync(root, 0o711);
  writeFileSync(join(root, 'legacy', 'kernel'), 'old kernel', { mode: 0o444 });
  writeFileSync(join(root, 'loose.json'), '{}', { mode: 0o644 });
  d = await startDaemon({ dir: base, args: ['--accel', 'tcg', '--group', group] });
});

after(async () => {
  await d?.stop();
  spawnSync('userdel', [member]);
  spawnSync('groupdel', [group]);
  rmSync(base, { recursive: true, force: true });
});

/** As `user` (uid/gid by name): which of `paths` can be read (files) or listed (folders)? */
function reachable(user: string[], paths: string[]): string[] {
  const script = `
    const fs = require('node:fs');
    const out = [];
    for (const p of JSON.parse(process.argv[1])) {
      try { fs.statSync(p).isDirectory() ? fs.readdirSync(p) : fs.closeSync(fs.openSync(p, 'r')); out.push(p); } catch {}
    }
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync('setpriv', [...user, '--', process.execPath, '-e', script, JSON.stringify(paths)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

const asMember = ['--reuid', member, '--regid', group, '--init-groups'];
const asNobody = ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups'];

test('nothing under the root is readable by another user, a member of the socket\'s group included', async () => {
  assert.equal((await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: d.socket })).code, 0);
  const run = await cli(['run', '--name', 'ran', 'hello'], { socket: d.socket });
  assert.equal(run.code, 0, run.stderr);
  const context = Readable.from([await tarBytes([{ name: 'Cunikfile', body: 'family: generic\nkernel: k\n' }, { name: 'k', body: readFileSync(helloKernel) }])]);
  await buildImage(d.client, context, { tag: 'built' });
  await d.client.createVolume({ name: 'vol' });

  const root = d.root;
  const st = statSync(root);
  assert.equal(st.mode & 0o7777, 0o710);
  assert.equal(st.gid, gid);
  const all: string[] = [];
  const loose: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) continue;
      const rel = relative(root, p);
      if (/^volumes\/[^/]+\/data$/.test(rel)) continue; // the share's top folder is the guest's (0755)
      all.push(p);
      if ((s.mode & 0o077) !== 0) loose.push(`${rel} ${(s.mode & 0o7777).toString(8)}`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(root);
  for (const want of ['images', 'build-cache', 'instances', 'volumes', 'cunikd.pid', 'loose.json', 'legacy/kernel']) {
    assert.ok(all.includes(join(root, want)), `${want} is there`);
  }
  assert.ok(all.some((p) => p.endsWith('console.log')), 'an instance console is there');
  assert.ok(all.some((p) => p.includes(`${root}/build-cache/entries/`)), 'a build cache entry is there');
  assert.deepEqual(loose, [], 'no group or other bits on anything under the root');
  assert.deepEqual(reachable(asMember, all), [], 'a member of the group reads nothing');
  assert.deepEqual(reachable(asNobody, [root, ...all]), [], 'nobody reads nothing');
});

test('the socket is root:GROUP 0660: a member of the group can use it, anyone else cannot', () => {
  const s = statSync(d.socket);
  assert.equal(s.mode & 0o777, 0o660);
  assert.equal(s.gid, gid);
  assert.equal(s.uid, 0);
  const cunik = join(repo, 'bin', 'cunik');
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent' };
  const ok = spawnSync('setpriv', [...asMember, '--', cunik, '-H', `unix://${d.socket}`, 'images'], { encoding: 'utf8', env });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^hello\s/m);
  const no = spawnSync('setpriv', [...asNobody, '--', cunik, '-H', `unix://${d.socket}`, 'images'], { encoding: 'utf8', env });
  assert.notEqual(no.status, 0);
  assert.match(no.stderr, /permission denied|EACCES/i);
  assert.doesNotMatch(no.stdout, /hello/);
});

test('--group names a group that must exist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-perm-'));
  try {
    const r = spawnSync(process.execPath, [join(repo, 'bin', 'cunikd.js'), '--root', join(dir, 'root'), '--host', join(dir, 's.sock'), '--group', `${tag}none`], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `cunikd: --group: there is no group ${tag}none (create it with: groupadd ${tag}none)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
