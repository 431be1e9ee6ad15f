// planInitramfs: the order of the archive (every directory before what it holds, as the kernel's
// unpacker needs: it drops a file whose directory does not exist yet) and the cache key.
import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, test } from 'node:test';
import { planInitramfs, type InitramfsInput } from '../../src/build/linux/initramfs.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-initramfs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, body: string): string => {
  const p = join(tmp, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, body);
  return p;
};

const input = (extra: Partial<InitramfsInput> = {}): InitramfsInput => ({
  init: file('init', 'init'),
  app: { host: file('app', 'app'), guest: '/bin/app' },
  libs: [],
  // Modules live under /.cunik/kmod/<release>/..., below /.cunik which the plan adds itself.
  modules: { release: '6.1.0-test', files: [{ name: 'virtio', rel: 'kernel/drivers/virtio/virtio.ko', path: file('virtio.ko', 'ko') }] },
  files: [{ host: join(tmp, 'www'), guest: '/srv/www' }],
  entry: ['/bin/app'],
  env: ['A=1'],
  ...extra,
});
file('www/index.html', '<p>hi</p>');
file('www/css/site.css', 'p{}');

test('every entry comes after the directory that holds it, modules under /.cunik included', async () => {
  const plan = await planInitramfs(input());
  const names = plan.entries.map((e) => e.name);
  const dirs = new Set<string>(['/']);
  for (const e of plan.entries) {
    assert.ok(dirs.has(posix.dirname(e.name)), `${e.name} comes before its directory ${posix.dirname(e.name)} (order: ${names.join(' ')})`);
    if (e.type === 'dir') dirs.add(e.name);
  }
  assert.ok(names.includes('/.cunik/kmod/6.1.0-test/kernel/drivers/virtio/virtio.ko'));
  assert.ok(names.includes('/srv/www/css/site.css'));
  assert.equal(new Set(names).size, names.length, 'no path twice');
});

test('added files are an archive of their own: changing one leaves the base archive and its key alone', async () => {
  const a = await planInitramfs(input());
  const b = await planInitramfs(input());
  assert.equal(a.key, b.key);
  assert.equal(a.segments.length, 2);
  assert.ok(a.segments[1]!.entries.every((e) => e.name === '/srv' || e.name.startsWith('/srv/')), 'only the added tree (and its parents) in the second archive');
  assert.ok(!a.segments[0]!.entries.some((e) => e.name.startsWith('/srv')));
  file('www/index.html', '<p>changed</p>');
  const c = await planInitramfs(input());
  assert.notEqual(c.key, a.key);
  assert.equal(c.segments[0]!.key, a.segments[0]!.key, 'base archive reused');
  assert.notEqual(c.segments[1]!.key, a.segments[1]!.key);
});

test('an added file replaces what the base has at its path; without added files there is one archive', async () => {
  const over = await planInitramfs(input({ files: [{ host: file('other-app', 'other'), guest: '/bin/app' }] }));
  assert.ok(!over.segments[0]!.entries.some((e) => e.name === '/bin/app'), 'the base no longer packs /bin/app');
  assert.deepEqual(over.segments[1]!.entries.filter((e) => e.type === 'file').map((e) => e.name), ['/bin/app']);
  const none = await planInitramfs(input({ files: [] }));
  assert.equal(none.segments.length, 1);
});

test('volume modules are packed apart: /.cunik/modules lists what loads at boot, /.cunik/modules.volumes the rest', async () => {
  const vol = { name: 'ext4', rel: 'kernel/fs/ext4/ext4.ko', path: file('ext4.ko', 'ko') };
  const plan = await planInitramfs(input({ modules: { ...input().modules, onDemand: [vol] } }));
  const text = (name: string): string | undefined => {
    const e = plan.entries.find((x) => x.name === name);
    return e && e.type === 'file' && Buffer.isBuffer(e.source) ? e.source.toString() : undefined;
  };
  assert.equal(text('/.cunik/modules'), '/.cunik/kmod/6.1.0-test/kernel/drivers/virtio/virtio.ko\n');
  assert.equal(text('/.cunik/modules.volumes'), '/.cunik/kmod/6.1.0-test/kernel/fs/ext4/ext4.ko\n');
  assert.ok(plan.entries.some((e) => e.name === '/.cunik/kmod/6.1.0-test/kernel/fs/ext4/ext4.ko'), 'the module itself is packed');
  assert.equal((await planInitramfs(input())).entries.find((e) => e.name === '/.cunik/modules.volumes'), undefined);
});

test('with a root disk: the container tree is the disk (keyed by the tree alone); the initramfs holds the init, the modules and /.cunik/root', async () => {
  file('tree/bin/sh', 'sh');
  file('tree/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
  file('tree/etc/group', 'root:x:0:\n');
  const disk = (extra: Partial<InitramfsInput> = {}): Promise<Awaited<ReturnType<typeof planInitramfs>>> =>
    planInitramfs(input({ rootfs: join(tmp, 'tree'), app: undefined, entry: ['/bin/sh'], rootDisk: true, ...extra }));
  const plan = await disk();
  assert.ok(plan.disk);
  assert.deepEqual(plan.disk.entries.filter((e) => e.type === 'file').map((e) => e.name).sort(), ['/bin/sh', '/etc/group', '/etc/passwd']);
  const names = plan.entries.map((e) => e.name);
  for (const n of ['/init', '/dev/console', '/proc', '/sys', '/tmp', '/.cunik/modules', '/.cunik/kmod/6.1.0-test/kernel/drivers/virtio/virtio.ko', '/.cunik/root/.cunik/entry', '/.cunik/root/.cunik/env', '/.cunik/root/etc/hosts', '/.cunik/root/srv/www/index.html']) {
    assert.ok(names.includes(n), `${n} in the initramfs (${names.join(' ')})`);
  }
  assert.ok(!names.includes('/bin/sh') && !names.includes('/.cunik/entry'), 'neither the tree nor the entry at the top');
  assert.ok(plan.guestEntries.some((e) => e.name === '/bin/sh') && plan.guestEntries.some((e) => e.name === '/srv/www/index.html'));
  // Other added files, users or env: the same disk key, another initramfs.
  const other = await disk({ files: [], users: [{ name: 'app' }], env: ['B=2'] });
  assert.equal(other.disk?.key, plan.disk.key);
  assert.notEqual(other.key, plan.key);
  assert.ok(other.entries.some((e) => e.name === '/.cunik/root/etc/passwd'), 'the passwd with the added user is laid over the disk\'s');
  file('tree/bin/sh', 'another sh');
  const changed = await disk();
  assert.notEqual(changed.disk?.key, plan.disk.key);
  // Owners are part of the tree (a service that drops to its user needs its files): kept in the
  // entries, and in the key.
  chownSync(join(tmp, 'tree/etc/group'), 33, 34);
  const owned = await disk();
  assert.deepEqual(owned.disk?.entries.filter((e) => e.name === '/etc/group').map((e) => [e.uid, e.gid]), [[33, 34]]);
  assert.notEqual(owned.disk?.key, changed.disk?.key);
  const initramfs = await planInitramfs(input({ rootfs: join(tmp, 'tree'), app: undefined, entry: ['/bin/sh'] }));
  assert.deepEqual(initramfs.entries.filter((e) => e.name === '/etc/group').map((e) => [e.uid, e.gid]), [[33, 34]]);
  assert.deepEqual(initramfs.entries.filter((e) => e.name === '/srv/www/index.html').map((e) => [e.uid ?? 0, e.gid ?? 0]), [[0, 0]], 'added files are root\'s');
});
