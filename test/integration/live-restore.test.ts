// Instances that are never lost: daemon crashes, VMs killed from outside, restart policies, pause.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { InstanceDetail } from '../../src/api/schemas.js';
import { HALT_GRACE_MS } from '../../src/instances/console-exit.js';
import { cli, helloKernel, kernels, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const run = (args: string[]) => cli(args, { socket: d.socket });
const inspect = async (name: string): Promise<InstanceDetail> => d.client.inspectInstance(name);

/** SIGKILL the daemon (no clean-up at all), run `meanwhile`, start a new daemon on the same root. */
async function crashAndRestart(meanwhile: () => unknown = () => undefined): Promise<void> {
  const gone = new Promise((r) => d.proc.once('exit', r));
  d.proc.kill('SIGKILL');
  await gone;
  d.client.close();
  await meanwhile();
  d = await startDaemon({ dir: d.dir });
}

before(async () => {
  d = await startDaemon();
  assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
  assert.equal((await run(['import', '--family', 'rumprun', join(kernels, 'halt.elf'), 'halts'])).code, 0);
});

/** Type a line into an instance's console (QEMU's console socket), as attach would. */
async function typeLine(id: string, line: string): Promise<void> {
  const sock = createConnection(join(d.root, 'sock', `${id.slice(0, 24)}.con`));
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  await new Promise<void>((resolve) => sock.end(`${line}\n`, resolve));
}
after(async () => d.stop());

test('kill -9 of the daemon: running VMs are re-adopted and stay manageable; dead ones keep their exit code', async () => {
  assert.equal((await run(['run', '-d', '--name', 'stays', 'hello', 'idle'])).code, 0);
  assert.equal((await run(['run', '-d', '--name', 'dies', 'hello', 'idle'])).code, 0);
  const stays = await inspect('stays');
  const dies = await inspect('dies');
  await waitFor('ready', async () => (await run(['logs', 'stays'])).stdout.includes('ready') || undefined);

  await crashAndRestart(() => process.kill(dies.pid!, 'SIGKILL')); // dies while no daemon watches

  const again = await inspect('stays');
  assert.equal(again.state, 'running');
  assert.equal(again.pid, stays.pid, 'the same QEMU, not a new one');
  assert.match(readFileSync(`/proc/${again.pid}/cmdline`, 'utf8'), /^qemu-system/, 'the VM\'s own pid, not its shim\'s');
  assert.match((await run(['logs', 'stays'])).stdout, /ready/);
  const died = await inspect('dies');
  assert.equal(died.state, 'exited');
  assert.equal(died.exitCode, 137);

  // The adopted VM answers lifecycle verbs and its exit is still seen, with its code.
  assert.equal((await run(['pause', 'stays'])).code, 0);
  assert.equal((await inspect('stays')).state, 'paused');
  assert.equal((await run(['unpause', 'stays'])).code, 0);
  const waiting = d.client.waitInstance('stays');
  assert.equal((await run(['kill', 'stays'])).code, 0);
  assert.equal(await (await waiting).exitCode, 137);
  assert.equal((await run(['rm', 'stays', 'dies'])).code, 0);
});

test('kill -9 while run -d had started the VM but not yet written its record: the directory and the VM are gone after the restart', async () => {
  // run -d writes an instance's record once, with the start (store.create): the window is
  // recreated by removing the record of a running instance while no daemon runs.
  assert.equal((await run(['run', '-d', '--name', 'unwritten', 'hello', 'idle'])).code, 0);
  const { id, pid, paths } = await inspect('unwritten');
  await crashAndRestart(() => rmSync(join(paths.dir, 'instance.json')));

  assert.equal(existsSync(paths.dir), false, 'the directory without a record is removed');
  await waitFor('the VM ended', () => (existsSync(`/proc/${pid}`) ? undefined : true));
  assert.deepEqual((await d.client.listInstances(true)).filter((i) => i.id === id), []);
  assert.equal((await run(['run', '-d', '--name', 'unwritten', 'hello', 'idle'])).code, 0, 'its name is free');
  assert.equal((await run(['rm', '-f', 'unwritten'])).code, 0);
});

test('a VM killed from outside is seen as exited (137) within a second', async () => {
  assert.equal((await run(['run', '-d', '--name', 'victim', 'hello', 'idle'])).code, 0);
  const { pid } = await inspect('victim');
  const t0 = Date.now();
  process.kill(pid!, 'SIGKILL');
  await waitFor('exit seen', async () => ((await inspect('victim')).state === 'exited' ? true : undefined), 1000);
  assert.ok(Date.now() - t0 < 1000);
  assert.equal((await inspect('victim')).exitCode, 137);
  await run(['rm', 'victim']);
});

test('restart policies: on-failure:N gives up after N, always comes back, a manual stop is respected', async () => {
  assert.equal((await run(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'hello', 'exit=3'])).code, 0);
  await waitFor('two restarts then exit', async () => {
    const i = await inspect('flaky');
    return i.restartCount === 2 && i.state === 'exited' ? i : undefined;
  });
  assert.equal((await inspect('flaky')).exitCode, 3);

  assert.equal((await run(['run', '-d', '--name', 'forever', '--restart', 'always', 'hello', 'idle'])).code, 0);
  const before = await inspect('forever');
  process.kill(before.pid!, 'SIGKILL');
  await waitFor('restarted', async () => {
    const i = await inspect('forever');
    return i.state === 'running' && i.restartCount === 1 && i.pid !== before.pid ? i : undefined;
  });
  assert.equal((await run(['stop', 'forever'])).code, 0);
  await new Promise((r) => setTimeout(r, 400)); // longer than the first back-offs
  assert.equal((await inspect('forever')).state, 'exited');
  assert.equal((await run(['rm', 'flaky', 'forever'])).code, 0);
});

test('after a daemon restart: always and unless-stopped come back, unless-stopped stopped by hand does not', async () => {
  for (const [name, policy] of [['back-always', 'always'], ['back-unless', 'unless-stopped'], ['held', 'unless-stopped']] as const) {
    assert.equal((await run(['run', '-d', '--name', name, '--restart', policy, 'hello', 'idle'])).code, 0);
  }
  assert.equal((await run(['stop', 'held'])).code, 0);
  // Kill every VM and the daemon, as a host reboot would.
  const pids = await Promise.all(['back-always', 'back-unless'].map(async (n) => (await inspect(n)).pid!));
  await crashAndRestart(() => pids.forEach((pid) => process.kill(pid, 'SIGKILL')));
  for (const name of ['back-always', 'back-unless']) {
    await waitFor(`${name} back`, async () => ((await inspect(name)).state === 'running' ? true : undefined));
  }
  assert.equal((await inspect('held')).state, 'exited');
  assert.equal((await run(['rm', '-f', 'back-always', 'back-unless', 'held'])).code, 0);
});

test('SIGTERM leaves instances running; --shutdown-instances stops them', async () => {
  assert.equal((await run(['run', '-d', '--name', 'survives', 'hello', 'idle'])).code, 0);
  const { pid } = await inspect('survives');
  await d.stop({ keepFiles: true });
  assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('qemu'), 'still running without a daemon');
  d = await startDaemon({ dir: d.dir, args: ['--accel', 'tcg', '--shutdown-instances'] });
  assert.equal((await inspect('survives')).state, 'running');
  const gone = new Promise((r) => d.proc.once('exit', r));
  d.proc.kill('SIGTERM');
  await gone;
  d.client.close();
  assert.throws(() => readFileSync(`/proc/${pid}/cmdline`), 'stopped with the daemon');
  d = await startDaemon({ dir: d.dir });
  assert.equal((await inspect('survives')).state, 'exited');
});

test('a Rumprun-style guest that prints its exit line and halts while no daemon runs is seen as exited with that code once one is back', async () => {
  assert.equal((await run(['run', '-d', '--name', 'halter', '--network', 'none', 'halts', 'wait', 'exit=6'])).code, 0);
  const { id, pid, paths } = await inspect('halter');
  await waitFor('waiting', () => readFileSync(paths.consoleLog, 'utf8').includes('waiting\n') || undefined);

  // The guest ends (and halts, QEMU still running) while no daemon watches.
  await crashAndRestart(async () => {
    await typeLine(id, 'go');
    await waitFor('the exit line', () => readFileSync(paths.consoleLog, 'utf8').includes('=== ERROR: _exit(6) called ===\nhalted\n') || undefined);
    assert.ok(existsSync(`/proc/${pid}`), 'the halted guest\'s QEMU still runs');
  });
  const t0 = Date.now();
  const ended = await waitFor('exited', async () => {
    const i = await inspect('halter');
    return i.state === 'exited' ? i : undefined;
  }, 10_000);
  assert.ok(Date.now() - t0 < 2000, `seen ${Date.now() - t0} ms after the daemon answered`);
  assert.deepEqual([ended.exitCode, ended.exitCodeKnown, ended.exitSource], [6, true, 'console']);
  await waitFor('the VM ended', () => (existsSync(`/proc/${pid}`) ? undefined : true));

  // Started again, it is waiting, not ended: the earlier run's exit line is before this run's start.
  assert.equal((await run(['start', 'halter'])).code, 0);
  const again = await inspect('halter');
  const lines = (): number => readFileSync(paths.consoleLog, 'utf8').split('waiting\n').length - 1;
  await waitFor('waiting again', () => (lines() === 2 ? true : undefined));
  await crashAndRestart();
  // Past the moment the adoption's scan would have ended it (no event marks that nothing happens).
  await new Promise((r) => setTimeout(r, 4 * HALT_GRACE_MS));
  const adopted = await inspect('halter');
  assert.deepEqual([adopted.state, adopted.pid], ['running', again.pid]);
  // Its own exit line, printed under this daemon, ends it as usual.
  const waiting = d.client.waitInstance('halter');
  await typeLine(id, 'go');
  assert.equal(await (await waiting).exitCode, 6);
  assert.equal((await inspect('halter')).exitSource, 'console');
  assert.equal((await run(['rm', 'halter'])).code, 0);
});
