// The Cunikfile parser: valid files normalise; every mistake names the line and the key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cunikfileJsonSchema, parseCunikfile } from '../../src/build/cunikfile.js';
import { CunikError } from '../../src/errors.js';
import { repo } from '../helpers/daemon.js';

function error(text: string): CunikError {
  try {
    parseCunikfile(text);
  } catch (err) {
    assert.ok(err instanceof CunikError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err;
  }
  assert.fail('expected an error');
}

test('a full linux Cunikfile normalises', () => {
  const spec = parseCunikfile([
    'family: linux',
    'app: /bin/busybox',
    'files:',
    '  - { src: run.sh, dst: /run.sh, mode: 0o755 }',
    '  - src: conf',
    '    dst: /etc/app',
    '    mode: "0644"',
    'args: [sh, /run.sh, 3]',
    'env: { GREETING: hello, N: 2 }',
    'memory: 128M',
    'cpus: 2',
    'ports: [80, "53/udp"]',
    'volumes: [/data]',
    'labels: { maintainer: me }',
    'modules: [ext4]',
    'users: [memcache, { name: app, uid: 1000, groups: [data] }]',
    'groups: [data, { name: audio2, gid: 2001 }]',
    'user: app:data',
  ].join('\n'));
  assert.deepEqual(spec, {
    family: 'linux',
    app: '/bin/busybox',
    files: [{ src: 'run.sh', dst: '/run.sh', mode: 0o755 }, { src: 'conf', dst: '/etc/app', mode: 0o644 }],
    args: ['sh', '/run.sh', '3'],
    env: ['GREETING=hello', 'N=2'],
    memoryMiB: 128,
    cpus: 2,
    ports: ['80/tcp', '53/udp'],
    volumes: ['/data'],
    labels: { maintainer: 'me' },
    modules: ['ext4'],
    users: [{ name: 'memcache' }, { name: 'app', uid: 1000, groups: ['data'] }],
    groups: [{ name: 'data' }, { name: 'audio2', gid: 2001 }],
    user: 'app:data',
    rootfs: 'auto',
    snapshot: 'boot',
  });
  assert.equal(parseCunikfile('family: linux\napp: /a\nuser: 33').user, '33');
  assert.equal(parseCunikfile('family: linux\napp: /a\nmemory: 1G\nenv: [A=1]').memoryMiB, 1024);
  assert.deepEqual(parseCunikfile('family: linux\napp: /a\nenv: [A=1, B=x=y]').env, ['A=1', 'B=x=y']);
  assert.equal(parseCunikfile('family: generic\nkernel: hello.elf\nmemory: 64').memoryMiB, 64);
  const stop = parseCunikfile('family: generic\nkernel: hello.elf\nstop_signal: kill\nstop_timeout: 3');
  assert.deepEqual([stop.stopSignal, stop.stopTimeout], ['SIGKILL', 3]);
  assert.match(error('family: generic\nkernel: k\nstop_signal: SIGHUP').message, /^Cunikfile:3: stop_signal: stop signal SIGHUP cannot be delivered to a unikernel guest/);
  assert.match(error('family: generic\nkernel: k\nstop_timeout: -2').message, /^Cunikfile:3: stop_timeout: expected a whole number of seconds from 0 to 3600 seconds, got -2$/);
});

test('unknown keys name the line and the key, top level and nested', () => {
  const top = error('family: linux\napp: /bin/true\ncolour: red\n');
  assert.match(top.message, /^Cunikfile:3: colour: unknown key \(known: family, kernel, app/);
  assert.equal(top.field, 'colour');
  const nested = error('family: linux\napp: /bin/true\nfiles:\n  - src: a\n    dst: /a\n    owner: root\n');
  assert.match(nested.message, /^Cunikfile:6: files\[0\]\.owner: unknown key \(known: src, dst, mode\)/);
  const user = error('family: linux\napp: /bin/true\nusers:\n  - name: app\n    password: x\n');
  assert.match(user.message, /^Cunikfile:5: users\[0\]\.password: unknown key \(known: name, uid, gid, home, shell, groups\)/);
});

test('wrong types name the line, the key, what was expected and what was found', () => {
  const cases: [string, RegExp][] = [
    ['family: linux\napp: /x\nmemory: lots\n', /^Cunikfile:3: memory: expected an integer \(MiB, from 4 to 1048576 MiB\) or a size such as "256M", got "lots"/],
    ['family: linux\napp: /x\ncpus: two\n', /^Cunikfile:3: cpus: expected an integer from 1 to 255, got "two"/],
    ['family: linux\napp: /x\n\nargs: hello\n', /^Cunikfile:4: args: expected a list of strings, got "hello"/],
    ['family: linux\napp: /x\nports:\n  - 80\n  - http\n', /^Cunikfile:5: ports\[1\]: expected a port/],
    ['family: linux\napp: /x\nvolumes: [data]\n', /^Cunikfile:3: volumes\[0\]: expected an absolute path/],
    ['family: linux\napp: /x\nfiles:\n  - src: a\n    dst: relative\n', /^Cunikfile:5: files\[0\]\.dst: expected an absolute path/],
    ['family: linux\napp: /x\nfiles:\n  - src: a\n    dst: /a\n    mode: rwx\n', /^Cunikfile:6: files\[0\]\.mode: expected a file mode/],
    ['family: linux\napp: /x\nenv:\n  "BAD NAME": 1\n', /^Cunikfile:4: env\.BAD NAME: not a valid variable name/],
    ['family: 3\napp: /x\n', /^Cunikfile:1: family: expected a family name/],
    ['family: linux\napp: /x\nmemory: 2\n', /^Cunikfile:3: memory: expected/],
    ['family: linux\napp: /x\nlabels: { a: [1] }\n', /^Cunikfile:3: labels\.a: expected a string/],
    ['family: linux\napp: /x\nusers: memcache\n', /^Cunikfile:3: users: expected a list of user names/],
    ['family: linux\napp: /x\nusers: ["bad name"]\n', /^Cunikfile:3: users\[0\]: expected a user name/],
    ['family: linux\napp: /x\nusers:\n  - { name: app, uid: -1 }\n', /^Cunikfile:4: users\[0\]\.uid: expected an integer uid, got -1/],
    ['family: linux\napp: /x\ngroups: [{ gid: 5 }]\n', /^Cunikfile:3: groups\[0\]/],
    ['family: linux\napp: /x\nuser: "a b"\n', /^Cunikfile:3: user: expected a user such as www-data, 33, www-data:www-data or 33:33, got "a b"/],
  ];
  for (const [text, re] of cases) assert.match(error(text).message, re, text);
  assert.equal(error('family: linux\napp: /x\ncpus: two\n').field, 'cpus');
});

test('missing keys and family rules', () => {
  assert.match(error('app: /bin/true\n').message, /^Cunikfile:1: missing required key "family"/);
  assert.match(error('').message, /empty/);
  assert.match(error('- a\n- b\n').message, /^Cunikfile:1: expected a map/);
  assert.match(error('family: linux\n').message, /^Cunikfile:1: family: the linux family needs "app"/);
  assert.match(error('family: linux\napp: /a\nfrom: oci-archive:busybox.tar\n').message, /^Cunikfile:3: from: give either/);
  assert.match(error('family: generic\nargs: [a]\n').message, /^Cunikfile:1: family: the generic family needs "kernel"/);
  assert.match(error('family: unikraft\nkernel: k\n\napp: /x\n').message, /^Cunikfile:4: app: only the linux family takes "app"/);
  assert.match(error('family: linux\napp: /x\nlabels:\n  org.cunik.family: x\n').message, /^Cunikfile:4: labels\.org\.cunik\.family: org\.cunik\.family is set by cunik build/);
  assert.equal(parseCunikfile('family: linux\napp: /x\nlabels: { org.cunik.machine: pc }').labels['org.cunik.machine'], 'pc');
  assert.match(error('family: linux\napp: /x\nfiles:\n  - {src: a, dst: /../etc}\n').message, /^Cunikfile:4: files\[0\]\.dst: must not contain/);
  assert.match(error('family: linux\napp: /x\nusers:\n  - app\n  - { name: app }\n').message, /^Cunikfile:5: users\[1\]: app is named twice/);
  assert.match(error('family: generic\nkernel: k\nusers: [app]\n').message, /^Cunikfile:3: users: only the linux family takes "users"/);
  assert.match(error('family: generic\nkernel: k\nrootfs: disk\n').message, /^Cunikfile:3: rootfs: only the linux family takes "rootfs"/);
  assert.match(error('family: linux\napp: /bin/busybox\nrootfs: disk\n').message, /^Cunikfile:3: rootfs: a root disk is made of a container image: "rootfs: disk" needs "from"/);
  assert.match(error('family: linux\nfrom: oci-archive:x.tar\nrootfs: tmpfs\n').message, /^Cunikfile:3: rootfs: expected auto, disk or initramfs/);
  assert.equal(parseCunikfile('family: linux\nfrom: oci-archive:x.tar\nrootfs: disk\n').rootfs, 'disk');
  // snapshot: where instances start from; app needs ports and a root disk.
  assert.equal(parseCunikfile('family: linux\nfrom: oci-archive:x.tar\nports: [80]\nsnapshot: app\n').snapshot, 'app');
  assert.equal(parseCunikfile('family: linux\nfrom: oci-archive:x.tar\nsnapshot: none\n').snapshot, 'none');
  assert.match(error('family: linux\nfrom: oci-archive:x.tar\nsnapshot: app\n').message, /^Cunikfile:3: snapshot: "snapshot: app" saves the VM once its app listens on its ports: it needs "ports"/);
  assert.match(error('family: linux\nfrom: oci-archive:x.tar\nports: [80]\nrootfs: initramfs\nsnapshot: app\n').message, /^Cunikfile:5: snapshot: "snapshot: app" needs a root disk/);
  assert.match(error('family: linux\napp: /bin/busybox\nports: [80]\nsnapshot: app\n').message, /^Cunikfile:4: snapshot: "snapshot: app" needs a root disk/);
  assert.match(error('family: generic\nkernel: k\nsnapshot: app\n').message, /^Cunikfile:3: snapshot: only the linux family takes "snapshot"/);
  assert.match(error('family: linux\nfrom: oci-archive:x.tar\nsnapshot: later\n').message, /^Cunikfile:3: snapshot: expected boot, app or none/);
});

test('YAML syntax errors and duplicate keys give the line', () => {
  assert.match(error('family: linux\napp: [/x\nargs: []\n').message, /^Cunikfile:\d+: invalid YAML/);
  assert.match(error('family: linux\napp: /x\napp: /y\n').message, /^Cunikfile:3: invalid YAML: .*unique/i);
  assert.match(error('family: linux\n  app: /x\n').message, /^Cunikfile:\d: invalid YAML/);
});

test('docs/cunikfile.schema.json is the schema the parser uses', () => {
  const committed = JSON.parse(readFileSync(join(repo, 'docs', 'cunikfile.schema.json'), 'utf8')) as unknown;
  assert.deepEqual(committed, cunikfileJsonSchema(),
    'regenerate: node -e "import(\'./dist/src/build/cunikfile.js\').then(m => console.log(JSON.stringify(m.cunikfileJsonSchema(), null, 2)))" > docs/cunikfile.schema.json');
});
