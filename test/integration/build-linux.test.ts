// `cunik build` end to end through a real daemon and the real CLI: busybox-static as a linux app on
// Debian's kernel, a script added as a file, args and env passed at run time, exit code 3 returned.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hostTscKhz } from '../../src/families/host.js';
import { USER_NET } from '../../src/network/user.js';
import { cli, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { linuxGuestMissing, tscLabelLines } from '../helpers/linux-guest.js';
import { writeContainerArchive } from '../fixtures/build/oci-archive.js';

const missing = linuxGuestMissing().join('; ');

let d: TestDaemon;
let ctx: string;

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-ctx-'));
  writeFileSync(join(ctx, 'Cunikfile'), [
    '# busybox-static runs a script that prints its args and env, then exits 3',
    'family: linux',
    'app: /bin/busybox',
    'files:',
    '  - { src: scripts/report.sh, dst: /report.sh, mode: 0o755 }',
    'args: [sh, /report.sh, default-arg]',
    'env: { GREETING: hello }',
    'memory: 128M',
    ...tscLabelLines(),
    '',
  ].join('\n'));
  mkdirSync(join(ctx, 'scripts'));
  writeFileSync(join(ctx, 'scripts', 'report.sh'), 'echo "args: $*"\necho "GREETING=$GREETING"\necho "EXTRA=$EXTRA"\nexit 3\n');
  d = await startDaemon();
});
after(async () => {
  await d?.stop();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test('cunik build makes a linux image that runs busybox and returns its exit code', async () => {
  const b = await cli(['build', '-t', 'bbtest', ctx], { socket: d.socket });
  assert.equal(b.code, 0, b.stderr + b.stdout);
  assert.match(b.stdout, /^Step 1\/4 : kernel \/boot\/vmlinuz-/m);
  assert.match(b.stdout, /^Step 2\/4 : app \/bin\/busybox\n ---> statically linked/m);
  assert.match(b.stdout, /^Step 3\/4 : initramfs: 1 added files, \d+ kernel modules/m);
  assert.match(b.stdout, /^Successfully tagged bbtest:latest$/m);

  const image = await d.client.inspectImage('bbtest');
  assert.equal(image.family, 'linux');
  assert.equal(image.boot, 'linux');
  assert.deepEqual(image.args, ['sh', '/report.sh', 'default-arg']);
  assert.deepEqual(image.env, ['GREETING=hello']);
  assert.equal(image.memoryMiB, 128);
  assert.equal(image.layers.length, 3, 'kernel, initramfs, cunik/boot.json');

  const run = await cli(['run', '--rm', '-e', 'EXTRA=from-run', 'bbtest', 'sh', '/report.sh', 'one', 'two words'], { socket: d.socket });
  assert.equal(run.code, 3, run.stderr + run.stdout);
  assert.match(run.stdout, /^args: one two words\r?$/m);
  assert.match(run.stdout, /^GREETING=hello\r?$/m);
  assert.match(run.stdout, /^EXTRA=from-run\r?$/m);

  const plain = await cli(['run', '--rm', 'bbtest'], { socket: d.socket });
  assert.equal(plain.code, 3, plain.stderr + plain.stdout);
  assert.match(plain.stdout, /^args: default-arg\r?$/m);
  // The kernel says nothing under quiet; on microvm it used to say "PCI: Fatal: No config space
  // access function found" (pci_arch_init with pci=off), the first line of every instance's log.
  assert.doesNotMatch(plain.stdout, /^\[\s*\d+\.\d+\]/m, 'no kernel line in what the app printed');
});

test("the guest's host name: the short id by default (as Docker's), --hostname's otherwise; it resolves in the guest; --add-host lines", async () => {
  const probe = 'hostname; cat /etc/hostname; ping -c1 -W1 "$(hostname)" >/dev/null 2>&1 && echo resolves';
  const made = await cli(['run', '-d', 'bbtest', 'sh', '-c', probe], { socket: d.socket });
  assert.equal(made.code, 0, made.stderr);
  const id = made.stdout.trim();
  assert.equal((await cli(['wait', id], { socket: d.socket })).stdout, '0\n');
  const out = (await cli(['logs', id], { socket: d.socket })).stdout.replace(/\r/g, '');
  assert.match(out, new RegExp(`^${id.slice(0, 12)}\n${id.slice(0, 12)}\nresolves$`, 'm'));
  const named = await cli(['run', '--rm', '--hostname', 'web-1.example.com', 'bbtest', 'sh', '-c', probe], { socket: d.socket });
  assert.equal(named.code, 0, named.stderr + named.stdout);
  assert.match(named.stdout.replace(/\r/g, ''), /^web-1\.example\.com\nweb-1\.example\.com\nresolves$/m);
  // --add-host: /etc/hosts lines the guest's resolver reads (ping prints the address it resolved).
  const hosts = await cli(['run', '--rm', '--add-host', 'db.internal:10.9.0.5', '--add-host', 'host.docker.internal:host-gateway', 'bbtest', 'sh', '-c', 'ping -c1 -W1 db.internal 2>&1 | head -1; ping -c1 -W1 host.docker.internal 2>&1 | head -1'], { socket: d.socket });
  assert.equal(hosts.code, 0, hosts.stderr + hosts.stdout);
  assert.match(hosts.stdout, /^PING db\.internal \(10\.9\.0\.5\)/m);
  // The test daemon's default network is user mode: host-gateway is passt's gateway, the host.
  assert.match(hosts.stdout, new RegExp(`^PING host\\.docker\\.internal \\(${USER_NET.gateway.replace(/\./g, '\\.')}\\)`, 'm'));
  // --user (a name from the image's /etc/passwd, a group by number) and --workdir (made if missing).
  const who = await cli(['run', '--rm', '-u', 'nobody:33', '-w', '/srv/work', 'bbtest', 'sh', '-c', 'echo $(id -u):$(id -g) $(id -G) $(pwd)'], { socket: d.socket });
  assert.equal(who.code, 0, who.stderr + who.stdout);
  assert.match(who.stdout, /^65534:33 33 \/srv\/work\r?$/m);
  const numeric = await cli(['run', '--rm', '--user', '4242', 'bbtest', 'sh', '-c', 'echo $(id -u):$(id -g)'], { socket: d.socket });
  assert.match(numeric.stdout, /^4242:0\r?$/m, 'a uid the image does not know, in group 0 (as Docker)');
  const unknown = await cli(['run', '--rm', '-u', 'ghost', 'bbtest', 'true'], { socket: d.socket });
  assert.equal(unknown.code, 126, unknown.stdout);
  assert.match(unknown.stdout, /unable to find user ghost: no matching entries in \/etc\/passwd/);
  // --entrypoint: another program, the args given after the image only (never the image's defaults).
  const other = await cli(['run', '--rm', '--entrypoint', '/bin/busybox', 'bbtest', 'echo', 'from-entrypoint'], { socket: d.socket });
  assert.equal(other.code, 0, other.stderr + other.stdout);
  assert.match(other.stdout, /^from-entrypoint\r?$/m);
  assert.doesNotMatch(other.stdout, /default-arg/);
  const byName = await cli(['run', '--rm', '--entrypoint', 'busybox', 'bbtest', 'echo', 'found-in-path'], { socket: d.socket });
  assert.match(byName.stdout, /^found-in-path\r?$/m, byName.stdout);
  // --dns, --dns-search, --dns-option: the guest's resolv.conf.
  const resolv = await cli(['run', '--rm', '--dns', '192.0.2.53', '--dns', 'fd00::53', '--dns-search', 'corp.example', '--dns-option', 'ndots:2', 'bbtest', 'cat', '/etc/resolv.conf'], { socket: d.socket });
  assert.equal(resolv.code, 0, resolv.stderr + resolv.stdout);
  assert.match(resolv.stdout.replace(/\r/g, ''), /^nameserver 192\.0\.2\.53\nnameserver fd00::53\nsearch corp\.example\noptions ndots:2$/m);
  const network = await cli(['run', '--rm', '--dns-search', 'corp.example', 'bbtest', 'cat', '/etc/resolv.conf'], { socket: d.socket });
  assert.match(network.stdout.replace(/\r/g, ''), new RegExp(`^nameserver ${USER_NET.dns[0]!.replace(/\./g, '\\.')}\nsearch corp\.example$`, 'm'), "the network's resolver stays");
  const noNet = await cli(['run', '--rm', '--network', 'none', '--add-host', 'h:host-gateway', 'bbtest'], { socket: d.socket });
  assert.equal(noNet.code, 125);
  assert.match(noNet.stderr, /^cunik: linux: --add-host h:host-gateway needs a network with a gateway \(not --network none\)\n$/);
  const bad = await cli(['run', '--rm', '--hostname', 'a_b', 'bbtest'], { socket: d.socket });
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /^cunik: invalid hostname "a_b": a host name is labels of letters/);
  await cli(['rm', id], { socket: d.socket });
});

test('a dynamically linked app (/bin/ls) boots with the libraries the builder collected', async () => {
  const dyn = mkdtempSync(join(tmpdir(), 'cunik-dyn-'));
  try {
    const tsc = hostTscKhz();
    writeFileSync(join(dyn, 'Cunikfile'), `family: linux\napp: /bin/ls\nargs: [/, /lib64]\n${tsc !== undefined ? `labels: { org.cunik.tsc-khz: ${tsc} }\n` : ''}`);
    const b = await cli(['build', '-q', '-t', 'lstest', dyn], { socket: d.socket });
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^sha256:[0-9a-f]{64}\n$/, '-q prints only the id');
    const run = await cli(['run', '--rm', 'lstest'], { socket: d.socket });
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /^ld-linux-x86-64\.so\.2\r?$/m);
    assert.match(run.stdout, /^bin +dev +etc +init +lib +lib64 /m);
  } finally {
    rmSync(dyn, { recursive: true, force: true });
  }
});

test('from: a container image made here (busybox + a script, two layers) runs as a microVM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-from-'));
  try {
    await writeContainerArchive(join(dir, 'image.tar'), 'oci', [
      [
        { name: 'bin/busybox', body: readFileSync('/bin/busybox'), mode: 0o755 },
        { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
        { name: 'etc/removed', body: 'this file is deleted by the next layer' },
        // A hosts file whose last line has no newline: the init's lines must not run into it.
        { name: 'etc/hosts', body: '127.0.0.1\tlocalhost\n10.9.9.9\tlegacy' },
      ],
      [
        { name: 'etc/.wh.removed', body: '' },
        { name: 'app/run.sh', body: 'echo "args: $*"\necho "FROM_IMAGE=$FROM_IMAGE"\necho "pwd: $(pwd)"\n[ -e /etc/removed ] && echo "whiteout ignored"\nexit 4\n', mode: 0o755 },
      ],
    ], { Entrypoint: ['sh', '/app/run.sh'], Cmd: ['from-cmd'], Env: ['PATH=/bin', 'FROM_IMAGE=yes'], WorkingDir: '/app' });
    const tsc = hostTscKhz();
    writeFileSync(join(dir, 'Cunikfile'), `family: linux\nfrom: oci-archive:image.tar\n${tsc !== undefined ? `labels: { org.cunik.tsc-khz: ${tsc} }\n` : ''}`);
    const b = await cli(['build', '-t', 'fromtest', dir], { socket: d.socket });
    assert.equal(b.code, 0, b.stderr + b.stdout);
    assert.match(b.stdout, /^Step 2\/4 : from oci-archive:image\.tar\n ---> 2 layers applied; runs \/bin\/sh \/app\/run\.sh from-cmd$/m);
    const image = await d.client.inspectImage('fromtest');
    assert.deepEqual(image.args, ['from-cmd']);
    const run = await cli(['run', '--rm', 'fromtest'], { socket: d.socket });
    assert.equal(run.code, 4, run.stderr + run.stdout);
    assert.match(run.stdout, /^args: from-cmd\r?$/m);
    assert.match(run.stdout, /^FROM_IMAGE=yes\r?$/m);
    assert.match(run.stdout, /^pwd: \/app\r?$/m);
    assert.doesNotMatch(run.stdout, /whiteout ignored/);
    const hosts = await cli(['run', '--rm', '--hostname', 'h1', '--add-host', 'db:10.9.0.5', '--entrypoint', 'busybox', 'fromtest', 'cat', '/etc/hosts'], { socket: d.socket });
    assert.equal(hosts.code, 0, hosts.stderr + hosts.stdout);
    assert.match(hosts.stdout.replace(/\r/g, ''), /^10\.9\.9\.9\tlegacy\n127\.0\.1\.1\th1\n10\.9\.0\.5\tdb$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unchanged rebuild reuses every step and gives the same image id', async () => {
  const before = await d.client.inspectImage('bbtest');
  const t0 = Date.now();
  const b = await cli(['build', '-t', 'bbtest:again', ctx], { socket: d.socket });
  const ms = Date.now() - t0;
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.stdout.match(/---> Using cache/g)?.length, 2, b.stdout);
  assert.equal((await d.client.inspectImage('bbtest:again')).id, before.id);
  assert.ok(ms < 5000, `warm build took ${ms} ms`);
});

test('Cunikfile mistakes come back as one line naming the line and the key, exit 125', async () => {
  const bad = mkdtempSync(join(tmpdir(), 'cunik-bad-'));
  try {
    writeFileSync(join(bad, 'Cunikfile'), 'family: linux\napp: /bin/busybox\ncolour: red\n');
    const r = await cli(['build', '-t', 'bad', bad], { socket: d.socket });
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^cunik: Cunikfile:3: colour: unknown key/);
    writeFileSync(join(bad, 'other.yaml'), 'family: linux\napp: /no/such/app\n');
    const f = await cli(['build', '-t', 'bad', '-f', join(bad, 'other.yaml'), bad], { socket: d.socket });
    assert.equal(f.code, 125);
    assert.match(f.stderr, /cunik: app: .*\/no\/such\/app/);
    // A memory the kernel cannot even be loaded in: refused at build time, with the minimum.
    writeFileSync(join(bad, 'small.yaml'), 'family: linux\napp: /bin/busybox\nmemory: 32M\n');
    const m = await cli(['build', '-t', 'small', '-f', join(bad, 'small.yaml'), bad], { socket: d.socket });
    assert.equal(m.code, 125);
    assert.match(m.stderr, /^cunik: memory: 32 MiB is too little: this kernel and initramfs need at least \d+ MiB\n$/);
    assert.equal((await d.client.listImages()).filter((i) => i.repoTags.some((t) => t.startsWith('small'))).length, 0, 'no image');
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
});
