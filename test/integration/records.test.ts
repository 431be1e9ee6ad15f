// Nothing lost when a record is damaged: with the daemon stopped, the records of a running, an
// exited and a created instance are truncated or given wrong types; the restarted daemon sets
// them aside (console and exit file kept), leaves the running VM alone, restores the others,
// and says so in its log, in `cunik info` and in `cunik system check`.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const run = (args: string[], input?: string) => cli(args, { socket: d.socket, ...(input !== undefined && { input }) });
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qemu-system');

before(async () => {
  d = await startDaemon();
  assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
});
after(async () => d.stop());

test('truncated and mistyped records are set aside, never deleted; the running VM keeps running; the other instances are restored', async () => {
  assert.equal((await run(['run', '-d', '--name', 'up', 'hello', 'idle'])).code, 0);
  assert.equal((await run(['run', '--name', 'gone', 'hello', 'exit=3'])).code, 3);
  assert.equal((await run(['create', '--name', 'typed', 'hello'])).code, 0);
  assert.equal((await run(['run', '-d', '--name', 'keep', 'hello', 'idle'])).code, 0);
  const [up, gone, typed, keep] = await Promise.all(['up', 'gone', 'typed', 'keep'].map((n) => d.client.inspectInstance(n)));
  await waitFor('up ready', async () => (await run(['logs', 'up'])).stdout.includes('ready') || undefined);

  await d.stop({ keepFiles: true });
  const record = (dir: string) => join(dir, 'instance.json');
  truncateSync(record(up!.paths.dir), readFileSync(record(up!.paths.dir)).length - 10);
  truncateSync(record(gone!.paths.dir), readFileSync(record(gone!.paths.dir)).length - 10);
  writeFileSync(record(typed!.paths.dir), JSON.stringify({ id: 5, name: ['x'] }));
  d = await startDaemon({ dir: d.dir });

  // One line each in the log, naming the instance and where it went.
  const lines = d.stderr().split('\n').filter((l) => l.includes('set aside'));
  assert.equal(lines.length, 3, d.stderr());
  for (const r of [up!, gone!, typed!]) assert.ok(lines.some((l) => l.includes(`instance ${r.id.slice(0, 12)} set aside: its instance.json is damaged`)), `${r.name}: ${d.stderr()}`);

  // The running VM was left alone; the intact instance is back and answers.
  assert.ok(alive(up!.pid!), 'the set-aside instance keeps its QEMU');
  assert.deepEqual((await d.client.listInstances(true)).map((i) => i.name), ['keep']);
  const back = await d.client.inspectInstance('keep');
  assert.equal(back.state, 'running');
  assert.equal(back.pid, keep!.pid);

  // Nothing lost: each directory is in quarantine whole.
  const q = join(d.root, 'quarantine', 'instances');
  const aside = (id: string) => join(q, readdirSync(q).find((n) => n.startsWith(`${id}-`))!);
  assert.match(readFileSync(join(aside(up!.id), 'console.log'), 'utf8'), /ready/);
  assert.match(readFileSync(join(aside(gone!.id), 'console.log'), 'utf8'), /exit=3/);
  assert.ok(existsSync(join(aside(gone!.id), 'exit')), "the exited instance's exit file is kept");
  assert.match(readFileSync(join(aside(typed!.id), 'REASON'), 'utf8'), /must have required properties/);

  const info = await run(['info']);
  assert.match(info.stdout, /^ Set aside: 3 /m);
  assert.equal((await d.client.info()).quarantined, 3);

  const check = await run(['system', 'check']);
  assert.equal(check.code, 1, 'problems found: exit 1');
  for (const r of [up!, gone!, typed!]) assert.match(check.stdout, new RegExp(`^instance ${r.id.slice(0, 12)}: set aside at daemon start: its instance\\.json is damaged`, 'm'));
  assert.match(check.stdout, /^Checked 4 instance records, 1 image \(4 blobs verified\), 0 volumes: 3 problems found; cunik system check --repair drops what cannot be used$/m);

  const repair = await run(['system', 'check', '--repair']);
  assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  assert.match(repair.stdout, /and its VM ended \[repaired\]$/m);
  await waitFor('the set-aside VM ended by --repair', () => (alive(up!.pid!) ? undefined : true));
  assert.deepEqual(readdirSync(q), []);
  assert.equal((await run(['system', 'check'])).code, 0);
  assert.ok(alive(keep!.pid!), 'repair touched only what was set aside');
  assert.equal((await run(['rm', '-f', 'keep'])).code, 0);
});
