// `cunik hub serve --example` as typed: a hub on 127.0.0.1 with a temp root that builds the
// project's examples through the local daemon (CUNIK_HOST: a test daemon) and pushes them through
// its own HTTP API; _catalog then lists every example, and a second, empty daemon pulls hello from
// the hub and runs it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { listExamples } from '../../src/hub/example.js';
import { cli, repo, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { killOnExitSignal } from '../helpers/cleanup.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';

const cunik = join(repo, 'bin', 'cunik');
const daemons: TestDaemon[] = [];
after(async () => {
  for (const d of daemons) await d.stop();
});

test('cunik hub serve --example: every example pushed, listed by _catalog; cunik pull of hello into another daemon, then run --rm prints its banner', { timeout: 900_000 }, async () => {
  // Fails (never skips) when the Linux examples cannot be built: setup.sh installs what they need.
  assert.equal(linuxGuestMissing().join('; '), '', 'cannot build the Linux examples here (setup.sh installs what is missing)');
  const builder = await startDaemon();
  daemons.push(builder);
  const dir = await mkdtemp(join(tmpdir(), 'cunik-hub-example-'));
  const p = spawn(cunik, ['hub', 'serve', '--example', '--addr', '127.0.0.1:0', '--root', join(dir, 'root')], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CUNIK_HOST: `unix://${builder.socket}` },
  });
  killOnExitSignal(p);
  let out = '';
  p.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
  try {
    // Everything the hub says, event by event, until its ready line.
    const ready = await new Promise<string>((resolve, reject) => {
      p.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /--example: ready: .*/.exec(out);
        if (m) resolve(m[0]);
      });
      p.once('exit', (code) => reject(new Error(`cunik hub serve --example exited (${code}): ${out}`)));
    });
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
    const host = new URL(url).host;
    const names = listExamples().map((e) => e.name);
    assert.ok(names.includes('hello') && names.includes('httpd') && names.includes('redis'), names.join(','));
    assert.match(out, /--example: building hello, .* through the local cunikd/);
    assert.doesNotMatch(out, /not pushed/, out);
    assert.match(ready, new RegExp(`ready: ${names.length} of ${names.length} examples here`), out);

    const catalog = (await (await fetch(`${url}/v2/_catalog`)).json()) as { repositories: string[] };
    assert.deepEqual(catalog.repositories, [...names].sort());
    for (const n of names) {
      const tags = (await (await fetch(`${url}/v2/${n}/tags/list`)).json()) as { tags: string[] };
      assert.deepEqual(tags.tags, ['latest'], n);
    }
    // The builder's names are as they were: the example's own name, not the hub's.
    const refs = (await builder.client.listImages()).flatMap((i) => i.repoTags);
    assert.ok(refs.includes('hello:latest'), refs.join(','));
    assert.ok(!refs.some((r) => r.startsWith(host)), refs.join(','));

    // A newcomer's daemon: pull from the hub, run it.
    const fresh = await startDaemon();
    daemons.push(fresh);
    const pulled = await cli(['pull', `${host}/hello`], { socket: fresh.socket });
    assert.equal(pulled.code, 0, pulled.stderr + pulled.stdout);
    assert.match(pulled.stdout, /Downloaded newer image/);
    const run = await cli(['run', '--rm', `${host}/hello`], { socket: fresh.socket });
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /Hello from the Cunik test kernel/);
  } finally {
    p.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    await rm(dir, { recursive: true, force: true });
  }
});
