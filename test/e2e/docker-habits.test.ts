// Docker's everyday habits in the native CLI, against a real daemon and QEMU (TCG): labels and
// --env-file on create/run, ps --filter/-n/-l/--no-trunc, rename, and the container, image and
// system groups' aliases.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startHub } from '../helpers/hub.js';

let d: TestDaemon;
const tmp = mkdtempSync(join(tmpdir(), 'cunik-habits-'));
const run = (args: string[]) => cli(args, { socket: d.socket });
const names = async (args: string[]): Promise<string[]> => {
  const r = await run(['ps', '--format', 'json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { name: string }[]).map((i) => i.name);
};

before(async () => {
  d = await startDaemon();
  const imported = await run(['import', '--family', 'generic', helloKernel, 'hello']);
  assert.equal(imported.code, 0, imported.stderr);
});
after(async () => {
  await d.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('labels and --env-file on create: stored, shown by inspect and ps, matched by ps --filter label=', async () => {
  const envFile = join(tmp, 'env');
  writeFileSync(envFile, '# a comment\n\nFROM_FILE=1\nBOTH=file\nUNSET_ONE\n');
  const labelFile = join(tmp, 'labels');
  writeFileSync(labelFile, 'team=infra\n');
  let r = await run(['create', '--name', 'lab1', '-l', 'env=test', '--label', 'tier', '--label-file', labelFile, '--env-file', envFile, '-e', 'BOTH=flag', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  r = await run(['create', '--name', 'lab2', '--label', 'env=prod', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  const [info] = JSON.parse((await run(['inspect', 'lab1'])).stdout) as { labels: Record<string, string>; config: { env: string[] } }[];
  assert.deepEqual(info!.labels, { env: 'test', tier: '', team: 'infra' });
  assert.deepEqual(info!.config.env, ['FROM_FILE=1', 'BOTH=file', 'BOTH=flag']);
  assert.deepEqual(await names(['-a', '--filter', 'label=env=test']), ['lab1']);
  assert.deepEqual(await names(['-a', '--filter', 'label=env']), ['lab2', 'lab1']);
  assert.deepEqual(await names(['-a', '--filter', 'label=env', '--filter', 'label=tier']), ['lab1']);
  assert.deepEqual(await names(['-a', '--filter', 'label=nope']), []);
  // Labels survive a daemon restart (they are in the record).
  await d.stop({ keepFiles: true });
  d = await startDaemon({ dir: d.dir });
  assert.deepEqual((await d.client.inspectInstance('lab2')).labels, { env: 'prod' });
  const missing = await run(['create', '--env-file', join(tmp, 'absent'), 'hello']);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /^cunik: .*cannot read .*absent: no such file or directory\n$/);
});

test('ps --filter status/name/ancestor/before/since/exited, -n, -l and --no-trunc', async () => {
  assert.equal((await run(['run', '--name', 'f-three', 'hello', 'exit=3'])).code, 3);
  assert.equal((await run(['run', '--name', 'f-zero', 'hello'])).code, 0);
  assert.deepEqual(await names(['--filter', 'status=exited']), ['f-zero', 'f-three']);
  assert.deepEqual(await names(['--filter', 'exited=3']), ['f-three']);
  assert.deepEqual(await names(['-a', '--filter', 'name=f-']), ['f-zero', 'f-three']);
  assert.deepEqual(await names(['-a', '--filter', 'ancestor=hello:latest', '--filter', 'since=lab2']), ['f-zero', 'f-three']);
  assert.deepEqual(await names(['-a', '--filter', 'before=f-three']), ['lab2', 'lab1']);
  assert.deepEqual(await names(['-n', '2']), ['f-zero', 'f-three']);
  assert.deepEqual(await names(['-l']), ['f-zero']);
  const full = await run(['ps', '-l', '-q', '--no-trunc']);
  assert.match(full.stdout, /^[0-9a-f]{64}\n$/);
  assert.match((await run(['ps', '-l', '-q'])).stdout, /^[0-9a-f]{12}\n$/);
  // The container group's names run the same verbs.
  for (const alias of ['ls', 'list', 'ps']) assert.equal((await run(['container', alias, '-a', '-q'])).stdout, (await run(['ps', '-a', '-q'])).stdout);
  const bad = await run(['ps', '--filter', 'status=sleepy']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /invalid filter status=sleepy/);
  const badKey = await run(['ps', '--filter', 'colour=red']);
  assert.equal(badKey.code, 125);
  assert.match(badKey.stderr, /invalid filter "colour" for ps/);
});

test('rename: the new name resolves, the old is free, the record keeps it; a taken name is refused', async () => {
  assert.equal((await run(['create', '--name', 'old-name', 'hello'])).code, 0);
  const id = (await d.client.inspectInstance('old-name')).id;
  let r = await run(['rename', 'old-name', 'new-name']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await d.client.inspectInstance('new-name')).id, id);
  assert.equal((await run(['inspect', 'old-name'])).code, 125);
  // The old name can be taken again at once.
  assert.equal((await run(['create', '--name', 'old-name', 'hello'])).code, 0);
  r = await run(['rename', 'new-name', 'old-name']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /the name "old-name" is already in use/);
  r = await run(['rename', 'new-name', 'bad/name']);
  assert.equal(r.code, 125);
  assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  const events = await run(['events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'event=rename', '--format', 'json']);
  assert.equal(events.code, 0, events.stderr);
  const renamed = events.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; attributes: Record<string, string> });
  assert.equal(renamed.length, 1, events.stdout);
  assert.equal(renamed[0]!.id, id);
  assert.equal(renamed[0]!.attributes['oldName'], 'old-name');
  assert.equal(renamed[0]!.attributes['name'], 'new-name');
  await d.stop({ keepFiles: true });
  d = await startDaemon({ dir: d.dir });
  assert.equal((await d.client.inspectInstance('new-name')).id, id);
});

test("the image and system groups hold Docker's verbs: image build, push, pull, history; system info, events; top", async () => {
  const ctx = join(tmp, 'group-ctx');
  mkdirSync(ctx);
  copyFileSync(helloKernel, join(ctx, 'hello.elf'));
  writeFileSync(join(ctx, 'Cunikfile'), 'family: generic\nkernel: hello.elf\n');
  let r = await run(['image', 'build', '-q', '-t', 'grouped:v1', ctx]);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.equal((await d.client.inspectImage('grouped:v1')).id, id);
  const hub = await startHub();
  try {
    const ref = `${hub.host}/group/hello:v1`;
    assert.equal((await run(['tag', 'grouped:v1', ref])).code, 0);
    r = await run(['image', 'push', '-q', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await run(['rmi', ref, 'grouped:v1'])).code, 0);
    r = await run(['image', 'pull', '-q', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${ref}\n`);
    assert.equal((await d.client.inspectImage(ref)).id, id);
  } finally {
    await hub.stop();
  }
  r = await run(['image', 'history', '-q', id]);
  assert.equal(r.stdout, `${id.slice(7, 19)}\n<missing>\n`);
  // top: the VMM, the one host process of a running instance (as docker top shows it).
  r = await run(['run', '-d', '--name', 'topped', 'hello', 'idle']);
  assert.equal(r.code, 0, r.stderr);
  const vm = await d.client.inspectInstance('topped');
  r = await run(['container', 'top', 'topped']);
  const top = /^PID +CMD\n(\d+) +(.*)\n$/.exec(r.stdout);
  assert.deepEqual(top?.slice(1), [String(vm.pid), vm.vm.argv.join(' ')], r.stdout);
  await run(['rm', '-f', 'topped']);
  r = await run(['top', 'topped']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^cunik: no such instance: topped\n$/);
  // version and info --format: Go templates on Docker's shapes, as docker version/info take them.
  r = await run(['version', '--format', '{{.Client.Version}}|{{.Server.Version}}|{{.Server.ApiVersion}}']);
  const v = await d.client.version();
  assert.equal(r.stdout, `${v.version}|${v.version}|1.44\n`, r.stderr);
  r = await run(['system', 'info', '--format', '{{.ServerVersion}} {{.OSType}} {{.DockerRootDir}}']);
  assert.equal(r.stdout, `${v.version} linux ${d.root}\n`, r.stderr);
  r = await run(['info', '--format', '{{.Nope}}']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /can't evaluate field Nope/);
  r = await run(['system', 'info', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { root: string }).root, d.root);
  r = await run(['system', 'events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=image', '--filter', 'event=pull', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
});

test('create -it records the terminal (config.tty, Docker\'s Config.Tty); without -t none', async () => {
  assert.equal((await run(['create', '-it', '--name', 'tty-made', 'hello'])).code, 0);
  assert.equal((await run(['create', '--name', 'plain-made', 'hello'])).code, 0);
  assert.equal((await run(['inspect', '-f', '{{.Config.Tty}} {{.config.tty}}', 'tty-made'])).stdout, 'true true\n');
  assert.equal((await run(['inspect', '-f', '{{.Config.Tty}}', 'plain-made'])).stdout, 'false\n');
  await run(['rm', 'tty-made', 'plain-made']);
});

test('container prune and volume prune take --filter (until, label, label!)', async () => {
  assert.equal((await run(['create', '--name', 'pr-a', '--label', 'tier=web', 'hello'])).code, 0);
  assert.equal((await run(['create', '--name', 'pr-b', 'hello'])).code, 0);
  let r = await run(['container', 'prune', '-f', '--filter', 'until=2000-01-01T00:00:00Z']);
  assert.equal(r.stdout, 'Total reclaimed space: 0B\n', 'none made before 2000');
  r = await run(['container', 'prune', '-f', '--filter', 'label=tier=web']);
  assert.match(r.stdout, /^Deleted Instances:\n[0-9a-f]{64}\n\nTotal reclaimed space: /);
  assert.equal((await names(['-a', '--filter', 'name=pr-'])).join(','), 'pr-b');
  r = await run(['container', 'prune', '-f', '--filter', 'nope=1']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^cunik: invalid filter "nope" for container prune \(one of until, label, label!\)\n$/);
  await run(['rm', 'pr-b']);
  for (const [name, label] of [['pv-a', 'tier=db'], ['pv-b', 'tier=web']] as const) assert.equal((await run(['volume', 'create', '--label', label, name])).code, 0);
  r = await run(['volume', 'prune', '-a', '-f', '--filter', 'label=tier=db']);
  assert.match(r.stdout, /^Deleted Volumes:\npv-a\n\n/);
  r = await run(['volume', 'prune', '-a', '-f', '--filter', 'label!=tier']);
  assert.doesNotMatch(r.stdout, /pv-b/);
  assert.equal((await run(['volume', 'rm', 'pv-b'])).code, 0);
});
