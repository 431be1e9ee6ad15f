// The CLI as a user types it, against a real daemon and real QEMU (TCG).
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const run = (args: string[]) => cli(args, { socket: d.socket });

before(async () => {
  d = await startDaemon();
  const imported = await run(['import', '--family', 'generic', helloKernel, 'hello']);
  assert.equal(imported.code, 0, imported.stderr);
});
after(async () => d.stop());

test('run --rm hello prints the banner, exits 0 and leaves nothing behind', async () => {
  const r = await run(['run', '--rm', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Hello from the Cunik test kernel/);
  const ps = await run(['ps', '-a', '-q']);
  assert.equal(ps.stdout, '');
  assert.deepEqual(readdirSync(join(d.root, 'instances')), []);
});

test('run --rm hello exit=3 exits 3 and passes the args to the unikernel', async () => {
  const r = await run(['run', '--rm', 'hello', 'exit=3', 'extra']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /cmdline: exit=3 extra/);
});

test('-e, -m and --cpus reach the VM', async () => {
  const r = await run(['run', '--name', 'envy', '-e', 'GREETING=hi', '-m', '48m', '--cpus', '2', 'hello', 'exit=0']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cmdline: GREETING=hi exit=0/);
  const [info] = JSON.parse((await run(['inspect', 'envy'])).stdout) as { vm: { argv: string[] }; config: { memoryMiB: number; cpus: number } }[];
  assert.equal(info!.config.memoryMiB, 48);
  assert.equal(info!.config.cpus, 2);
  const argv = info!.vm.argv.join(' ');
  assert.match(argv, /-m 48/);
  assert.match(argv, /-smp 2/);
  assert.equal((await run(['rm', 'envy'])).code, 0);
});

test('run -d hello idle stays running; ps, logs, stop, start, restart, kill, wait, rm', async () => {
  const started = await run(['run', '-d', '--name', 'idler', 'hello', 'idle']);
  assert.equal(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);

  const ps = await run(['ps']);
  assert.match(ps.stdout, /idler/);
  assert.match(ps.stdout, /Up /);
  const json = JSON.parse((await run(['ps', '--format', 'json'])).stdout) as { name: string; state: string }[];
  assert.equal(json.find((i) => i.name === 'idler')?.state, 'running');

  await waitFor('ready on the console', async () => (await run(['logs', 'idler'])).stdout.includes('ready') || undefined);

  const stopped = await run(['stop', '-t', '1', id.slice(0, 12)]);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(stopped.stdout.trim(), id.slice(0, 12));
  assert.match((await run(['ps', '-a'])).stdout, /Exited \(\d+\)/);

  assert.equal((await run(['start', 'idler'])).code, 0);
  assert.match((await run(['ps'])).stdout, /idler/);
  assert.equal((await run(['restart', '-t', '0', 'idler'])).code, 0);
  assert.match((await run(['ps'])).stdout, /idler/);

  const waiting = run(['wait', 'idler']);
  const killed = await run(['kill', 'idler']);
  assert.equal(killed.code, 0, killed.stderr);
  const waited = await waiting;
  assert.equal(waited.stdout.trim(), '137');

  assert.equal((await run(['rm', 'idler'])).code, 0);
  assert.equal(existsSync(join(d.root, 'instances', id)), false);
});

test('start -a of an instance that ran before shows this run\'s output only, and its exit code', async () => {
  const banners = (out: string): number => (out.match(/Hello from the Cunik test kernel/g) ?? []).length;
  const first = await run(['run', '--name', 'twice', 'hello', 'exit=4']);
  assert.equal(first.code, 4, first.stderr);
  for (const runs of [2, 3]) {
    const again = await run(['start', '-a', 'twice']);
    assert.equal(again.code, 4, again.stderr);
    assert.equal(banners(again.stdout), 1, again.stdout);
    assert.match(again.stdout, /^exit: 4\r?$/m);
    assert.equal(banners((await run(['logs', 'twice'])).stdout), runs, 'logs keeps every run');
  }
  assert.equal((await run(['rm', 'twice'])).code, 0);
  // -i: stdin reaches the guest too (the hello kernel's echo mode), and its exit ends the CLI.
  assert.equal((await run(['create', '--name', 'talk', 'hello', 'echo'])).code, 0);
  for (const [word, code] of [['first', 5], ['again', 6]] as const) {
    const r = await cli(['-H', `unix://${d.socket}`, 'start', '-i', 'talk'], {
      interact: async (s) => {
        await s.output(/echo: ready/);
        s.stdin.write(`${word}\n`);
        await s.output(new RegExp(`echo: ${word}`));
        s.stdin.write(`exit=${code}\n`);
      },
      keepStdin: true,
    });
    assert.equal(r.code, code, r.stderr + r.stdout);
    assert.equal((r.stdout.match(/echo: ready/g) ?? []).length, 1, r.stdout);
  }
  assert.equal((await run(['rm', 'talk'])).code, 0);
});

test('verbs take several instances and report each failure on its own line', async () => {
  const a = (await run(['create', '--name', 'multi-a', 'hello'])).stdout.trim();
  const b = (await run(['create', '--name', 'multi-b', 'hello'])).stdout.trim();
  assert.ok(a && b);
  const r = await run(['rm', 'multi-a', 'nope', b.slice(0, 10)]);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, 'cunik: no such instance: nope\n');
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['multi-a', b.slice(0, 10)].sort());
});

test('kill -s sends the given signal', async () => {
  await run(['run', '-d', '--name', 'sig', 'hello', 'idle']);
  const r = await run(['kill', '-s', 'TERM', 'sig']);
  assert.equal(r.code, 0, r.stderr);
  const code = await run(['wait', 'sig']);
  assert.match(code.stdout.trim(), /^\d+$/);
  assert.equal((await run(['rm', '-f', 'sig'])).code, 0);
});

test('images, tag, image inspect, rmi refuses an image in use unless -f', async () => {
  assert.equal((await run(['tag', 'hello', 'hello:v2'])).code, 0);
  const images = await run(['images']);
  assert.match(images.stdout, /REPOSITORY\s+TAG\s+IMAGE ID/);
  assert.match(images.stdout, /hello\s+v2/);
  const q = await run(['images', '-q']);
  assert.match(q.stdout.trim(), /^[0-9a-f]{12}$/);
  const listed = JSON.parse((await run(['images', '--format', 'json'])).stdout) as { repoTags: string[]; family: string }[];
  assert.deepEqual(listed[0]!.repoTags.sort(), ['hello:latest', 'hello:v2']);
  const [detail] = JSON.parse((await run(['image', 'inspect', 'hello:v2'])).stdout) as { labels: Record<string, string> }[];
  assert.equal(detail!.labels['org.cunik.family'], 'generic');

  await run(['create', '--name', 'user', 'hello:v2']);
  // Like Docker: a tag that is not the last one just goes, in use or not.
  const untagged = await run(['rmi', 'hello:v2']);
  assert.equal(untagged.code, 0, untagged.stderr);
  assert.match(untagged.stdout, /Untagged: hello:v2/);
  // The last reference of an image an instance uses is refused without -f.
  const refused = await run(['rmi', 'hello']);
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /^cunik: .*in use/);
  const forced = await run(['rmi', '-f', 'hello']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /Untagged: hello:latest/);
  // The instance still runs from its own copy of the kernel.
  const again = await run(['start', '-a', 'user']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Hello from the Cunik test kernel/);
  await run(['rm', 'user']);
  assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
});

test('info reports the accelerator and why; version shows client and server', async () => {
  const info = await run(['info']);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /Accelerator: tcg/);
  assert.match(info.stdout, /Reason: .+/);
  const version = await run(['version']);
  assert.match(version.stdout, /Client:\n Version: \d+\.\d+\.\d+/);
  assert.match(version.stdout, /API version: v1/);
});
