// The /etc a linux image gets (userland.ts) and the build-time warnings (runtime-check.ts).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { planInitramfs, type InitramfsInput } from '../../src/build/linux/initramfs.js';
import type { CpioEntry } from '../../src/build/linux/cpio.js';
import { runtimeWarnings } from '../../src/build/linux/runtime-check.js';
import { nssServices, passwdAndGroup, resolveUser } from '../../src/build/linux/userland.js';
import { CunikError } from '../../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-userland-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, body: string | Buffer): string => {
  const p = join(tmp, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, body);
  return p;
};
const input = (extra: Partial<InitramfsInput> = {}): InitramfsInput => ({
  init: file('init', 'init'),
  app: { host: file('app', 'app'), guest: '/bin/app' },
  libs: [],
  modules: { release: '6.1.0-test', files: [] },
  files: [],
  entry: ['/bin/app'],
  env: [],
  hostEtc: join(tmp, 'host-etc'),
  ...extra,
});
file('host-etc/services', 'http\t\t80/tcp\t\t\twww\n');
const text = (entries: CpioEntry[], name: string): string | undefined => {
  const e = entries.find((x) => x.name === name);
  if (e?.type !== 'file') return undefined;
  return Buffer.isBuffer(e.source) ? e.source.toString() : `<host ${e.source}>`;
};
const lines = (s: string | undefined): string[] => (s ?? '').split('\n').filter((l) => l !== '');

test('Debian\'s own users and groups, then the Cunikfile\'s: system ids from 100, a group of the user\'s name', () => {
  const { passwd, group } = passwdAndGroup(
    [{ name: 'memcache' }, { name: 'www-data' }, { name: 'app', uid: 1000, home: '/srv/app', groups: ['data', 'audio'] }, { name: 'svc', gid: 33 }],
    [{ name: 'data' }, { name: 'fixed', gid: 4242 }],
  );
  const pw = lines(passwd);
  assert.equal(pw[0], 'root:x:0:0:root:/root:/bin/sh');
  assert.ok(pw.includes('www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin'), 'www-data is Debian\'s, not added twice');
  assert.ok(pw.includes('nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin'));
  assert.equal(pw.filter((l) => l.startsWith('www-data:')).length, 1);
  assert.deepEqual(pw.slice(-3), [
    'memcache:x:100:102::/nonexistent:/usr/sbin/nologin', // gid 100 is Debian's "users", 101 went to data
    'app:x:1000:1000::/srv/app:/usr/sbin/nologin',
    'svc:x:101:33::/nonexistent:/usr/sbin/nologin',
  ]);
  const gr = lines(group);
  assert.ok(gr.includes('nogroup:x:65534:'));
  assert.ok(gr.includes('data:x:101:app'), gr.join(' | '));
  assert.ok(gr.includes('fixed:x:4242:'));
  assert.ok(gr.includes('audio:x:29:app'), 'a Debian group gets the user as a member');
  assert.ok(gr.includes('memcache:x:102:'));
  assert.ok(gr.includes('app:x:1000:'));
  assert.equal(new Set(pw.map((l) => l.split(':')[2])).size, pw.length, 'no uid twice');
  assert.equal(new Set(gr.map((l) => l.split(':')[2])).size, gr.length, 'no gid twice');
});

test('a container\'s passwd and group are kept, the Cunikfile\'s users appended; conflicts are refused', () => {
  const existing = { passwd: 'root:x:0:0:root:/root:/bin/bash\nalice:x:100:100::/home/alice:/bin/bash\n', group: 'root:x:0:\nalice:x:100:\n' };
  const { passwd, group } = passwdAndGroup([{ name: 'bob' }, { name: 'alice' }], [], existing);
  assert.equal(passwd, `${existing.passwd}bob:x:101:101::/nonexistent:/usr/sbin/nologin\n`);
  assert.equal(group, `${existing.group}bob:x:101:\n`);
  assert.throws(() => passwdAndGroup([{ name: 'alice', uid: 7 }], [], existing), (e: unknown) => e instanceof CunikError && /alice already has uid 100, not 7/.test(e.message));
  assert.throws(() => passwdAndGroup([{ name: 'x', groups: ['nope'] }], []), /no group named nope/);
  assert.throws(() => passwdAndGroup([{ name: 'x', uid: 33 }], []), /users: x: uid 33 is already www-data's/);
  assert.throws(() => passwdAndGroup([], [{ name: 'g', gid: 65534 }]), /groups: g: gid 65534 is already nogroup's/);
});

test('nsswitch.conf services, without [STATUS=action] items and comments', () => {
  assert.deepEqual(nssServices('# x\npasswd: files systemd\nhosts: files mdns4_minimal [NOTFOUND=return] dns\n'), ['files', 'systemd', 'mdns4_minimal', 'dns']);
});

test('every image gets passwd, group, hosts, nsswitch.conf, services, /var/run and /var/tmp; the users go in', async () => {
  const plan = await planInitramfs(input({ users: [{ name: 'memcache' }], groups: [{ name: 'data', gid: 3000 }] }));
  const base = plan.segments[0]!.entries;
  assert.match(text(base, '/etc/passwd')!, /^root:x:0:0:/);
  assert.match(text(base, '/etc/passwd')!, /^memcache:x:100:\d+:/m);
  assert.match(text(base, '/etc/group')!, /^data:x:3000:$/m);
  assert.match(text(base, '/etc/hosts')!, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(text(base, '/etc/nsswitch.conf')!, /^hosts: +files dns$/m);
  assert.equal(text(base, '/etc/services'), `<host ${join(tmp, 'host-etc', 'services')}>`);
  assert.equal(text(base, '/etc/protocols'), undefined, 'not on the (test) host: left out');
  assert.deepEqual(base.find((e) => e.name === '/var/run'), { type: 'symlink', name: '/var/run', target: '/run' });
  assert.deepEqual(base.find((e) => e.name === '/var/tmp'), { type: 'dir', name: '/var/tmp', mode: 0o1777 });
  // A Cunikfile file at one of those paths replaces it (it is in the added archive, unpacked last).
  const own = await planInitramfs(input({ files: [{ host: file('my-hosts', '10.1.1.1 db\n'), guest: '/etc/hosts' }] }));
  assert.equal(text(own.segments[0]!.entries, '/etc/hosts'), undefined);
  assert.equal(text(own.segments[1]!.entries, '/etc/hosts'), `<host ${join(tmp, 'my-hosts')}>`);
  // Users change the key (the cache rebuilds), the same ones do not.
  const again = await planInitramfs(input({ users: [{ name: 'memcache' }], groups: [{ name: 'data', gid: 3000 }] }));
  assert.equal(again.key, plan.key);
  assert.notEqual((await planInitramfs(input())).key, plan.key);
});

test('a container\'s own /etc is kept: passwd appended to, a symlinked resolv.conf and /var/run left alone', async () => {
  const root = join(tmp, 'rootfs');
  file('rootfs/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n');
  file('rootfs/etc/hosts', '127.0.0.1 localhost mine\n');
  mkdirSync(join(root, 'var'), { recursive: true });
  symlinkSync('/run/systemd/resolve/stub-resolv.conf', join(root, 'etc', 'resolv.conf'));
  symlinkSync('../run', join(root, 'var', 'run'));
  const plan = await planInitramfs(input({ rootfs: root, app: undefined, users: [{ name: 'bob' }] }));
  const e = plan.entries;
  assert.equal(text(e, '/etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nbob:x:100:101::/nonexistent:/usr/sbin/nologin\n');
  assert.equal(text(e, '/etc/hosts'), `<host ${join(root, 'etc', 'hosts')}>`);
  assert.match(text(e, '/etc/group')!, /^bob:x:101:$/m, 'no group in the container: Debian\'s, with bob\'s');
  assert.deepEqual(e.find((x) => x.name === '/var/run'), { type: 'symlink', name: '/var/run', target: '../run' });
  assert.deepEqual(e.find((x) => x.name === '/etc/resolv.conf'), { type: 'symlink', name: '/etc/resolv.conf', target: '/run/systemd/resolve/stub-resolv.conf' });
  const untouched = await planInitramfs(input({ rootfs: root, app: undefined }));
  assert.equal(text(untouched.entries, '/etc/passwd'), `<host ${join(root, 'etc', 'passwd')}>`, 'no users named: the container\'s file as it is');
});

test('warnings: a library named but not needed, package data named and absent, an NSS module missing', async () => {
  const app = file('bin/svc', Buffer.from('\x7fELF...\0libcunik-plugin.so.3\0libc.so.6\0/usr/share/cunik-data/db\0/usr/share/absent-pkg/x\0/usr/lib/x86_64-linux-gnu/foo\0mylibbar.so.1\0'));
  file('hostroot/usr/share/cunik-data/db', 'data');
  const libc = file('lib/libc.so.6', 'libc ... _nss_files_getpwnam_r ... libgcc_s.so.1');
  const entries: CpioEntry[] = [
    { type: 'file', name: '/bin/svc', source: app },
    { type: 'file', name: '/lib/x86_64-linux-gnu/libc.so.6', source: libc },
    { type: 'file', name: '/etc/nsswitch.conf', source: Buffer.from('passwd: files systemd\nhosts: files dns\n') },
  ];
  const libs = [{ guest: '/lib/x86_64-linux-gnu/libc.so.6', host: libc }];
  const w = await runtimeWarnings({ app: { host: app, guest: '/bin/svc' }, libs, entries, hostRoot: join(tmp, 'hostroot') });
  assert.deepEqual(w, [
    '/etc/nsswitch.conf names "systemd", but libnss_systemd.so.2 is not in the image: lookups through it will fail (add it with files:, or drop "systemd" from nsswitch.conf)',
    'svc names libcunik-plugin.so.3, which is not in the image: if it loads it at run time (dlopen), it is not on this host either',
    'svc refers to /usr/share/cunik-data, which is on this host but not in the image: if it reads it at run time, add it with files: { src: /usr/share/cunik-data, dst: /usr/share/cunik-data }',
  ]);
  // A static app (no libraries: busybox-static) is not scanned; its strings are its libc's.
  assert.deepEqual(await runtimeWarnings({ app: { host: app, guest: '/bin/svc' }, libs: [], entries: entries.filter((e) => e.name !== '/etc/nsswitch.conf'), hostRoot: join(tmp, 'hostroot') }), []);
  // With the library, the data and the module in the image: nothing to say.
  const full: CpioEntry[] = [...entries,
    { type: 'file', name: '/usr/lib/x86_64-linux-gnu/libcunik-plugin.so.3', source: app },
    { type: 'file', name: '/usr/share/cunik-data/db', source: Buffer.from('') },
    { type: 'symlink', name: '/lib/x86_64-linux-gnu/libnss_systemd.so.2', target: 'x' }];
  assert.deepEqual(await runtimeWarnings({ app: { host: app, guest: '/bin/svc' }, libs, entries: full, hostRoot: join(tmp, 'hostroot') }), []);
  // An older glibc (files not built in) needs libnss_files.so.2.
  const old = file('lib-old/libc.so.6', 'libc without the symbol');
  const oldEntries: CpioEntry[] = [{ type: 'file', name: '/lib/x86_64-linux-gnu/libc.so.6', source: old }, { type: 'file', name: '/etc/nsswitch.conf', source: Buffer.from('passwd: files\n') }];
  assert.match((await runtimeWarnings({ libs: [], entries: oldEntries }))[0]!, /libnss_files\.so\.2 is not in the image/);
});

test('user: Docker\'s USER resolved in the image\'s passwd and group, as runc does', () => {
  const { passwd, group } = passwdAndGroup([{ name: 'app', uid: 1000, groups: ['data', 'audio'] }], [{ name: 'data', gid: 3000 }]);
  assert.deepEqual(resolveUser('app', passwd, group), { uid: 1000, gid: 1000, groups: [29, 3000] });
  assert.deepEqual(resolveUser('1000', passwd, group), { uid: 1000, gid: 1000, groups: [29, 3000] });
  assert.deepEqual(resolveUser('www-data', passwd, group), { uid: 33, gid: 33, groups: [] });
  assert.deepEqual(resolveUser('app:data', passwd, group), { uid: 1000, gid: 3000, groups: [29] });
  assert.deepEqual(resolveUser('4242:4343', passwd, group), { uid: 4242, gid: 4343, groups: [] }, 'numeric ids need no entry');
  assert.deepEqual(resolveUser('4242', passwd, group), { uid: 4242, gid: 0, groups: [] }, 'a uid not in passwd gets gid 0');
  assert.throws(() => resolveUser('ghost', passwd, group), /^.*user: no user named ghost in the image's \/etc\/passwd \(add it under users:\)$/);
  assert.throws(() => resolveUser('app:ghosts', passwd, group), /no group named ghosts/);
});

test('user: /.cunik/user holds the ids the init switches to, from the passwd the guest will have', async () => {
  const text = (e: CpioEntry[]): string | undefined => {
    const x = e.find((y) => y.name === '/.cunik/user');
    return x?.type === 'file' && Buffer.isBuffer(x.source) ? x.source.toString() : undefined;
  };
  assert.equal(text((await planInitramfs(input({ users: [{ name: 'svc' }], user: 'svc' }))).entries), '100 101 \n');
  assert.equal(text((await planInitramfs(input())).entries), undefined, 'no user: root, no file');
  // An /etc/passwd the Cunikfile adds is the one that counts.
  const own = file('own-passwd', 'root:x:0:0::/root:/bin/sh\nweb:x:5000:5001::/:/bin/sh\n');
  assert.equal(text((await planInitramfs(input({ files: [{ host: own, guest: '/etc/passwd' }], user: 'web' }))).entries), '5000 5001 \n');
  await assert.rejects(planInitramfs(input({ user: 'ghost' })), /no user named ghost/);
});
