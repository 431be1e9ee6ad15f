// The userland a linux image gets, seen from inside the guest through a real daemon and the real CLI:
// a probe (test/fixtures/build/userland.c, built here with gcc) looks up users, groups, localhost,
// a service name and the resolver, writes /tmp, /run, /var/run and /var/tmp, then switches to a user
// the Cunikfile adds; a container image keeps its own /etc with the Cunikfile's users appended; and
// the build warns about what the image lacks (a library named in the app, package data, an NSS module).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hostTscKhz } from '../../src/families/host.js';
import { cli, repo, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';
import { writeContainerArchive } from '../fixtures/build/oci-archive.js';

const missing = linuxGuestMissing().join('; ');
const tsc = hostTscKhz();
const tscLabel = tsc !== undefined ? `labels: { org.cunik.tsc-khz: ${tsc} }\n` : '';

let d: TestDaemon;
let ctx: string;
const run = (args: string[]) => cli(args, { socket: d.socket });
/** Console lines without the kernel's own ("[    0.27] ...") and without CRs. */
const lines = (out: string): string[] => out.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l !== '' && !l.startsWith('['));

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-userland-'));
  execFileSync('gcc', ['-O1', '-o', join(ctx, 'probe'), join(repo, 'test', 'fixtures', 'build', 'userland.c')]);
  writeFileSync(join(ctx, 'Cunikfile'), [
    '# a service that switches to its own user at start, as a Debian package would make it',
    'family: linux',
    'app: probe',
    'users:',
    '  - cache',
    '  - { name: app, uid: 1000, home: /srv/app, groups: [data] }',
    'groups: [data]',
    'args: [app]',
    'memory: 128M',
    tscLabel,
  ].join('\n'));
  d = await startDaemon();
});
after(async () => {
  await d?.stop();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test('an app finds root, nobody, www-data and its own users, localhost, services and the instance\'s resolver, and can switch user', { timeout: 300_000 }, async () => {
  const b = await run(['build', '-t', 'userland-probe', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  assert.match(b.stdout, /^ ---> warning: probe names libcunik-probe-plugin\.so\.1, which is not in the image: if it loads it at run time \(dlopen\), it is not on this host either$/m);
  assert.match(b.stdout, /^ ---> warning: probe refers to \/usr\/share\/common-licenses, which is on this host but not in the image: if it reads it at run time, add it with files: \{ src: \/usr\/share\/common-licenses, dst: \/usr\/share\/common-licenses \}$/m);

  const r = await run(['run', '--name', 'userland-probe', 'userland-probe']);
  try {
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const dns = (await d.client.inspectInstance('userland-probe')).network?.dns ?? [];
    assert.ok(dns.length > 0, 'the instance has a resolver');
    const out = lines(r.stdout);
    for (const want of [
      'running as uid=0 gid=0',
      'user root: uid=0 gid=0 home=/root groups=root',
      'user nobody: uid=65534 gid=65534 home=/nonexistent groups=nogroup',
      'user www-data: uid=33 gid=33 home=/var/www groups=www-data',
      'user app: uid=1000 gid=1000 home=/srv/app groups=app,data',
      'group nogroup: found',
      'localhost: 127.0.0.1 port 80',
      'service rsync/tcp: 873',
      ...dns.map((ip) => `resolv.conf: nameserver ${ip}`),
      'plugin libcunik-probe-plugin.so.1: absent',
      'data /usr/share/common-licenses: absent',
      'write /tmp/probe: ok',
      'write /run/probe.pid: ok',
      'write /var/run/probe.pid: ok',
      'write /var/tmp/probe: ok',
      'switched to app: uid=1000',
      'write /tmp/as-user: ok',
    ]) assert.ok(out.includes(want), `missing "${want}" in:\n${out.join('\n')}`);
  } finally {
    await run(['rm', '-f', 'userland-probe']);
  }

  // Without a network there is no resolver to name; the rest is the same. A user the Cunikfile adds
  // without a uid gets a system one.
  const none = await run(['run', '--rm', '--network', 'none', 'userland-probe', 'cache']);
  assert.equal(none.code, 0, none.stderr + none.stdout);
  const out = lines(none.stdout);
  assert.ok(out.includes('resolv.conf: No such file or directory'), out.join('\n'));
  assert.ok(out.some((l) => /^user cache: uid=100 gid=\d+ home=\/nonexistent groups=cache$/.test(l)), out.join('\n'));
  assert.ok(out.includes('switched to cache: uid=100'), out.join('\n'));
});

test('from: a container\'s own /etc is kept, the Cunikfile\'s users appended, its User runs the command; an NSS module it names but lacks is warned about', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-userland-from-'));
  try {
    await writeContainerArchive(join(dir, 'image.tar'), 'oci', [[
      { name: 'bin/busybox', body: readFileSync('/bin/busybox'), mode: 0o755 },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'lib/x86_64-linux-gnu/libc.so.6', body: readFileSync('/lib/x86_64-linux-gnu/libc.so.6'), mode: 0o755 },
      { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n' },
      { name: 'etc/group', body: 'root:x:0:\nalice:x:1000:\n' },
      { name: 'etc/nsswitch.conf', body: 'passwd: files systemd\ngroup: files systemd\nhosts: files dns\n' },
    ]], { Entrypoint: ['/bin/sh', '-c', 'cat /etc/passwd /etc/group /etc/hosts; busybox id'], Env: ['PATH=/bin'], User: 'alice' });
    writeFileSync(join(dir, 'Cunikfile'), `family: linux\nfrom: oci-archive:image.tar\nusers: [bob]\n${tscLabel}`);
    const b = await run(['build', '-t', 'userland-from', dir]);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    assert.match(b.stdout, /^ ---> warning: \/etc\/nsswitch\.conf names "systemd", but libnss_systemd\.so\.2 is not in the image: lookups through it will fail/m);
    const r = await run(['run', '--rm', '--network', 'none', 'userland-from']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = lines(r.stdout);
    assert.deepEqual(out.filter((l) => /^[a-z]+:x:/.test(l)), [
      'root:x:0:0:root:/root:/bin/sh',
      'alice:x:1000:1000::/home/alice:/bin/sh',
      'bob:x:100:100::/nonexistent:/usr/sbin/nologin',
      'root:x:0:',
      'alice:x:1000:',
      'bob:x:100:',
    ]);
    assert.ok(out.some((l) => /^127\.0\.0\.1\s+localhost$/.test(l)), 'the container had no /etc/hosts: Debian\'s');
    assert.ok(out.includes('uid=1000(alice) gid=1000(alice)'), `the image's User runs the command:\n${out.join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
