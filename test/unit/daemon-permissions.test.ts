// The daemon root's permissions (src/daemon/permissions.ts): the group that may use the socket,
// and an old root tightened at start, all the way down, guest-visible share folders excepted.
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { daemonGroup, lookupGroup, secureRoot } from '../../src/daemon/permissions.js';
import { ensureDir } from '../../src/util/ensure-dir.js';
import { CunikError } from '../../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-perm-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('groups are read from the group file; --group must exist, cunik is the default only for root', () => {
  const file = join(tmp, 'group');
  writeFileSync(file, 'root:x:0:\ncunik:x:998:alice,bob\nbad:x:notanumber:\n');
  assert.equal(lookupGroup('cunik', file), 998);
  assert.equal(lookupGroup('root', file), 0);
  assert.equal(lookupGroup('bad', file), undefined);
  assert.equal(lookupGroup('nosuch', file), undefined);
  assert.equal(lookupGroup('cunik', join(tmp, 'missing')), undefined);
  const lookup = (n: string): number | undefined => lookupGroup(n, file);
  assert.deepEqual(daemonGroup(undefined, true, lookup), { name: 'cunik', gid: 998 });
  assert.equal(daemonGroup(undefined, false, lookup), undefined, 'a non-root daemon takes no group unless told');
  assert.equal(daemonGroup(undefined, true, () => undefined), undefined, 'no cunik group: root only');
  assert.deepEqual(daemonGroup('root', false, lookup), { name: 'root', gid: 0 });
  assert.throws(() => daemonGroup('nosuch', true, lookup), (e: unknown) => e instanceof CunikError && e.message === '--group: there is no group nosuch (create it with: groupadd nosuch)');
});

test('an old root is tightened: 0700 (0710 with a group), no group or other bits below, share data and symlinks left alone', () => {
  const root = join(tmp, 'root');
  const mk = (rel: string, mode: number): void => {
    mkdirSync(join(root, rel), { recursive: true });
    chmodSync(join(root, rel), mode);
  };
  const file = (rel: string, mode: number): void => {
    writeFileSync(join(root, rel), 'x');
    chmodSync(join(root, rel), mode);
  };
  mkdirSync(root, { mode: 0o755 });
  chmodSync(root, 0o711);
  mk('images/unpacked/abc', 0o755);
  file('images/unpacked/abc/kernel', 0o444);
  mk('build-cache/entries/k', 0o755);
  file('build-cache/entries/k/initrd', 0o644);
  file('build-cache/entries/k/tool', 0o4755);
  mk('instances/i1', 0o711);
  file('instances/i1/console.log', 0o644);
  mk('volumes/v/data/inner', 0o777);
  chmodSync(join(root, 'volumes/v/data'), 0o777);
  file('volumes/v/data/inner/f', 0o666);
  file('volumes/v/volume.json', 0o644);
  symlinkSync('/etc/passwd', join(root, 'instances/i1/link'));
  const linkTargetMode = statSync('/etc/passwd').mode;

  assert.ok(secureRoot(root, undefined) >= 10);
  assert.equal(statSync(root).mode & 0o7777, 0o700);
  const mode = (rel: string): number => lstatSync(join(root, rel)).mode & 0o7777;
  for (const d of ['images', 'images/unpacked', 'images/unpacked/abc', 'build-cache/entries/k', 'instances/i1', 'volumes', 'volumes/v']) assert.equal(mode(d), 0o700, d);
  assert.equal(mode('images/unpacked/abc/kernel'), 0o400);
  assert.equal(mode('build-cache/entries/k/initrd'), 0o600);
  assert.equal(mode('build-cache/entries/k/tool'), 0o4700, 'owner and special bits are kept');
  assert.equal(mode('instances/i1/console.log'), 0o600);
  assert.equal(mode('volumes/v/volume.json'), 0o600);
  assert.equal(mode('volumes/v/data'), 0o777, 'a share\'s data folder is the guest\'s');
  assert.equal(mode('volumes/v/data/inner/f'), 0o666);
  assert.equal(statSync('/etc/passwd').mode, linkTargetMode, 'a symlink is never followed');
  assert.equal(secureRoot(root, undefined), 0, 'nothing left to change');

  secureRoot(root, { name: 'root', gid: 0 });
  assert.equal(statSync(root).mode & 0o7777, 0o710, 'with a group, members may pass through the root, nothing more');
});

test('the socket\'s folder is made 0755 when the daemon makes it, and left alone when it exists', async () => {
  const old = process.umask(0o077);
  try {
    await ensureDir(join(tmp, 'run', 'cunik'), 0o755, "the socket's directory");
    assert.equal(statSync(join(tmp, 'run')).mode & 0o777, 0o755);
    assert.equal(statSync(join(tmp, 'run', 'cunik')).mode & 0o777, 0o755);
    mkdirSync(join(tmp, 'private'), { mode: 0o700 });
    await ensureDir(join(tmp, 'private'), 0o755, "the socket's directory");
    assert.equal(statSync(join(tmp, 'private')).mode & 0o777, 0o700);
  } finally {
    process.umask(old);
  }
});
