// The volume store on a temp root: share folders and ext4 block files, names, same-name creates,
// removal refused while in use, prune, atomic create/remove (nothing half-made is ever listed).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { findMkfs, VolumeStore } from '../../src/volumes/store.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'cunik-volumes-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const code = (err: unknown): string => (err instanceof CunikError ? err.code : String(err));
const none = (): string[] => [];

test('share volumes: a folder under the root, listed, inspected, removed; names as Docker checks them', async () => {
  const store = new VolumeStore(join(root, 'a'));
  await store.init();
  const v = await store.create({ name: 'data', labels: { team: 'x' } });
  assert.equal(v.driver, 'share');
  assert.equal(v.mountpoint, join(root, 'a', 'volumes', 'data', 'data'));
  assert.ok(statSync(v.mountpoint).isDirectory());
  assert.deepEqual(v.labels, { team: 'x' });
  assert.equal(v.anonymous, false);
  assert.ok(!Number.isNaN(Date.parse(v.createdAt)));
  const anon = await store.create({});
  assert.match(anon.name, /^[0-9a-f]{64}$/, 'no name: a random 64-hex id');
  assert.deepEqual((await store.list()).map((x) => x.name).sort(), [anon.name, 'data'].sort());
  assert.deepEqual(await store.create({ name: 'data' }), v, 'the same name and driver: the existing volume');
  await assert.rejects(store.create({ name: 'data', driver: 'block' }), (e) => code(e) === 'CONFLICT');
  for (const bad of ['a', '-x', '.hidden', 'a/b', 'é', '']) await assert.rejects(store.create({ name: bad }), (e) => code(e) === 'INVALID_ARGUMENT', bad);
  await assert.rejects(store.create({ name: 'sized', sizeBytes: 1 << 24 }), /only block volumes take a size/);
  await store.remove('data', none);
  assert.equal(await store.find('data'), undefined);
  assert.ok(!existsSync(join(root, 'a', 'volumes', 'data')));
  await assert.rejects(store.get('data'), (e) => code(e) === 'NOT_FOUND');
  await assert.rejects(store.remove('data', none), (e) => code(e) === 'NOT_FOUND');
});

test('a share folder belongs to the VM user: made so, and claimed back before a start when it is not', { skip: process.geteuid?.() !== 0 && 'chown needs root' }, async () => {
  const owner = { uid: 65534, gid: 65534 };
  const store = new VolumeStore(join(root, 'owned'), { shareOwner: owner });
  await store.init();
  const v = await store.create({ name: 'shared' });
  assert.deepEqual([statSync(v.mountpoint).uid, statSync(v.mountpoint).gid], [65534, 65534]);
  // Made by a daemon that had no VM user (or another one): the folder is root's.
  const old = await new VolumeStore(join(root, 'owned')).create({ name: 'older' });
  assert.equal(statSync(old.mountpoint).uid, 0);
  writeFileSync(join(old.mountpoint, 'kept'), 'x');
  await store.claimShares(['older', 'no-such-volume']);
  assert.deepEqual([statSync(old.mountpoint).uid, statSync(old.mountpoint).gid], [65534, 65534]);
  assert.equal(statSync(join(old.mountpoint, 'kept')).uid, 0, 'only the folder itself: what is in it keeps its owner');
});

test("a share volume of a host folder of the user's (device): that folder, never chowned, left whole by rm; a missing or other one refused", async () => {
  const owner = { uid: 65534, gid: 65534 };
  const store = new VolumeStore(join(root, 'dev'), { shareOwner: owner });
  await store.init();
  const folder = join(root, 'users-folder');
  mkdirSync(folder);
  writeFileSync(join(folder, 'keep.txt'), 'mine');
  const before = statSync(folder);
  const v = await store.create({ name: 'bound', device: folder });
  assert.equal(v.mountpoint, folder);
  assert.equal(v.device, folder);
  assert.ok(!existsSync(join(root, 'dev', 'volumes', 'bound', 'data')), 'no folder of its own');
  assert.deepEqual(await store.get('bound'), v);
  assert.deepEqual(await store.create({ name: 'bound', device: folder }), v, 'the same options: the existing volume');
  await assert.rejects(store.create({ name: 'bound', device: root }), /already exists with other options \(device=/);
  await assert.rejects(store.create({ name: 'bound' }), /already exists with other options/);
  await store.claimShares(['bound']);
  assert.deepEqual([statSync(folder).uid, statSync(folder).gid, statSync(folder).mode], [before.uid, before.gid, before.mode], 'the user\'s folder keeps its owner and mode');
  assert.equal(await store.usage(v), 0, 'removing it frees nothing');
  // Refused, and nothing left in the store: a folder that is not there, a file, a block volume.
  await assert.rejects(store.create({ name: 'ghost', device: join(root, 'no-such-folder') }), /host folder \S+ does not exist/);
  await assert.rejects(store.create({ name: 'file', device: join(folder, 'keep.txt') }), /is not a directory/);
  await assert.rejects(store.create({ name: 'blk', driver: 'block', device: folder }), /only share volumes can be a host folder/);
  assert.deepEqual((await store.list()).map((x) => x.name), ['bound']);
  // The folder gone for a while is not the store's damage.
  renameSync(folder, `${folder}.away`);
  assert.deepEqual((await store.check(false)).problems, []);
  renameSync(`${folder}.away`, folder);
  await store.remove('bound', none);
  assert.equal(readFileSync(join(folder, 'keep.txt'), 'utf8'), 'mine', 'rm leaves the folder and what is in it');
});

test('removal is refused while an instance uses the volume; prune removes only unused ones', async () => {
  const store = new VolumeStore(join(root, 'b'));
  await store.init();
  await store.create({ name: 'used' });
  const free = await store.create({ name: 'free' });
  writeFileSync(join(free.mountpoint, 'f'), Buffer.alloc(5000));
  const usedBy = (n: string): string[] => (n === 'used' ? ['0123456789abcdef0123'] : []);
  await assert.rejects(store.remove('used', usedBy), (e) => code(e) === 'CONFLICT' && /volume used is in use by instance 0123456789ab$/.test((e as Error).message));
  assert.ok(await store.find('used'), 'still there');
  const anon = await store.create({ anonymous: true });
  const anonUsed = await store.create({ anonymous: true });
  const users = (n: string): string[] => (n === anonUsed.name ? ['fedcba'] : usedBy(n));
  // As Docker since 23.0: only anonymous volumes unless all.
  assert.deepEqual(await store.prune(users), { deleted: [anon.name], spaceReclaimed: 0 });
  assert.deepEqual((await store.list()).map((v) => v.name).sort(), [anonUsed.name, 'free', 'used'].sort());
  const pruned = await store.prune(users, true);
  assert.deepEqual(pruned, { deleted: ['free'], spaceReclaimed: 5000 });
  assert.deepEqual((await store.list()).map((v) => v.name).sort(), [anonUsed.name, 'used'].sort());
});

test('a damaged volume.json: the volume is unlisted (not a crash), check names it, --repair moves it aside with its data', async () => {
  const dir = join(root, 'd');
  const store = new VolumeStore(dir);
  await store.init();
  const good = await store.create({ name: 'good' });
  const bad = await store.create({ name: 'bad' });
  writeFileSync(join(bad.mountpoint, 'keep'), 'user data');
  writeFileSync(join(dir, 'volumes', 'bad', 'volume.json'), JSON.stringify({ name: 5, driver: ['x'] }));
  const gone = await store.create({ name: 'gone' });
  rmSync(gone.mountpoint, { recursive: true });
  assert.deepEqual((await store.list()).map((v) => v.name), ['gone', 'good']);
  assert.equal(await store.find('bad'), undefined);
  const found = await store.check(false);
  assert.equal(found.volumes, 3);
  assert.deepEqual(found.problems.map((p) => [p.subject, p.repaired]), [['bad', false], ['gone', false]]);
  assert.match(found.problems[0]!.problem, /^its volume\.json is damaged: /);
  assert.match(found.problems[1]!.problem, /^its data folder is missing$/);
  const fixed = await store.check(true);
  assert.ok(fixed.problems.every((p) => p.repaired && /moved to .*quarantine/.test(p.problem)));
  const aside = readdirSync(join(dir, 'quarantine', 'volumes')).find((n) => n.startsWith('bad-'))!;
  assert.equal(readFileSync(join(dir, 'quarantine', 'volumes', aside, 'data', 'keep'), 'utf8'), 'user data');
  assert.deepEqual((await store.list()).map((v) => v.name), [good.name]);
  assert.deepEqual((await store.check(false)).problems, []);
});

test('a failed create leaves nothing; leftovers of interrupted creates and removes go at init', async () => {
  const dir = join(root, 'c');
  const store = new VolumeStore(dir, { mkfs: '/bin/false' });
  await store.init();
  await assert.rejects(store.create({ name: 'broken', driver: 'block' }), /mkfs\.ext4 failed/);
  assert.deepEqual(readdirSync(join(dir, 'volumes')), [], 'no staging directory, no volume');
  mkdirSync(join(dir, 'volumes', '.new-0001'));
  mkdirSync(join(dir, 'volumes', '.trash-0002'));
  await store.init();
  assert.deepEqual(readdirSync(join(dir, 'volumes')), []);
  await assert.rejects(store.create({ name: 'tiny', driver: 'block', sizeBytes: 1024 }), /from 8 MiB/);
});

const mkfs = findMkfs();
test('block volumes: a sparse raw file of the size asked, made ext4 by mkfs.ext4', async () => {
  assert.ok(mkfs !== undefined, 'no mkfs.ext4: apt-get install e2fsprogs (setup.sh installs it)');
  const store = new VolumeStore(join(root, 'd'));
  await store.init();
  const v = await store.create({ name: 'disk', driver: 'block', sizeBytes: 32 * 1024 * 1024 });
  assert.equal(v.mountpoint, join(root, 'd', 'volumes', 'disk', 'disk.img'));
  assert.equal(v.size, 32 * 1024 * 1024);
  const st = statSync(v.mountpoint);
  assert.ok(st.blocks * 512 < st.size, 'sparse');
  assert.ok((await store.usage(v)) === st.blocks * 512);
  const dumpe2fs = join(mkfs!, '..', 'dumpe2fs');
  if (existsSync(dumpe2fs)) assert.match(execFileSync(dumpe2fs, ['-h', v.mountpoint], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(), /Filesystem features:.*extent/);
  else assert.equal(execFileSync('od', ['-An', '-tx2', '-j1080', '-N2', v.mountpoint]).toString().trim(), 'ef53', 'the ext superblock magic');
  const def = await store.create({ name: 'default', driver: 'block' });
  assert.equal(def.size, 64 * 1024 * 1024, 'default 64 MiB');
});
