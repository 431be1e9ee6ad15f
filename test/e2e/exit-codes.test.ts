// Exit codes as a Docker user expects them, with the real CLI, daemon and QEMU (TCG): QEMU's stderr
// never replaces the guest's code; a VM ended by a signal is 128 + n and a restart policy treats a
// signal from outside as a failure; a foreground `run` passes SIGTERM/SIGHUP on to its instance
// (--sig-proxy) instead of leaving it running; `logs -f` says so when the daemon dies; inspect
// says where each code came from.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, repo, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

// QEMU as the daemon runs it, except that it first writes a line to stderr when the guest's command
// line asks for one: real QEMU warns so (a 9p share a guest mounts with a small msize, an option's
// deprecation) while the guest goes on to exit with its own code.
const WARNING = 'qemu-system-x86_64: -fsdev local,id=fs0,path=/srv: warning: 9p: degraded performance: a reasonable high msize should be chosen on client/guest side';
const work = mkdtempSync(join(tmpdir(), 'cunik-exits-'));
const qemu = join(work, 'qemu-warns');
writeFileSync(qemu, `#!/bin/sh\ncase "$*" in *qemu-warns*) echo '${WARNING}' >&2 ;; esac\nexec qemu-system-x86_64 "$@"\n`);
chmodSync(qemu, 0o755);

let d: TestDaemon;
const run = (args: string[]) => cli(args, { socket: d.socket });

before(async () => {
  d = await startDaemon({ args: ['--accel', 'tcg', '--qemu', qemu] });
  const imported = await run(['import', '--family', 'generic', helloKernel, 'hello']);
  assert.equal(imported.code, 0, imported.stderr);
});
after(async () => {
  await d.stop();
  rmSync(work, { recursive: true, force: true });
});

/** The real CLI in the foreground, as a terminal would run it; `signal` sends it one. */
function foreground(args: string[]) {
  const p = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${d.socket}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const s = { stdout: '', stderr: '', done: new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => p.on('close', (code, signal) => r({ code, signal }))), signal: (sig: NodeJS.Signals) => p.kill(sig) };
  p.stdout.on('data', (b: Buffer) => (s.stdout += b.toString()));
  p.stderr.on('data', (b: Buffer) => (s.stderr += b.toString()));
  return s;
}

const inspect = (name: string) => d.client.inspectInstance(name);
const names = async (): Promise<string[]> => (await d.client.listInstances(true)).map((i) => i.name);

test('a line QEMU writes on stderr leaves the guest its exit code (3, not 125); inspect shows the line and the source', async () => {
  const r = await run(['run', '--name', 'warned', 'hello', 'qemu-warns', 'exit=3']);
  assert.equal(r.code, 3, r.stderr);
  const info = await inspect('warned');
  assert.equal(info.exitCode, 3);
  assert.equal(info.exitSource, 'guest');
  assert.equal(info.error, WARNING);
  assert.match(readFileSync(join(info.paths.dir, 'qemu.log'), 'utf8'), /degraded performance/, 'the text stays in qemu.log');
  assert.match(info.status, /^Exited \(3\) /);
  await run(['rm', 'warned']);
});

test('run in the foreground: SIGTERM to the CLI is passed on; the instance ends with 143 and --rm removes it', async () => {
  const s = foreground(['run', '--rm', '--name', 'fg-term', 'hello', 'idle']);
  await waitFor('the guest ready', () => s.stdout.includes('ready\n') || undefined, 60_000);
  s.signal('SIGTERM');
  assert.deepEqual(await s.done, { code: 143, signal: null }, s.stderr);
  await waitFor('fg-term removed', async () => !(await names()).includes('fg-term') || undefined);
});

test('run in the foreground: a closed terminal (SIGHUP) ends the instance (129, source signal)', async () => {
  const s = foreground(['run', '--name', 'fg-hup', 'hello', 'idle']);
  await waitFor('the guest ready', () => s.stdout.includes('ready\n') || undefined, 60_000);
  s.signal('SIGHUP');
  assert.deepEqual(await s.done, { code: 129, signal: null }, s.stderr);
  const info = await inspect('fg-hup');
  assert.equal(info.state, 'exited');
  assert.deepEqual([info.exitCode, info.exitSource], [129, 'signal']);
  assert.equal(info.pid, null);
  await run(['rm', 'fg-hup']);
});

test('run --no-sig-proxy: SIGTERM ends only the CLI; the instance runs on', async () => {
  const s = foreground(['run', '--no-sig-proxy', '--name', 'fg-noproxy', 'hello', 'idle']);
  await waitFor('the guest ready', () => s.stdout.includes('ready\n') || undefined, 60_000);
  s.signal('SIGTERM');
  assert.deepEqual(await s.done, { code: null, signal: 'SIGTERM' });
  assert.equal((await inspect('fg-noproxy')).state, 'running');
  assert.equal((await run(['rm', '-f', 'fg-noproxy'])).code, 0);
});

test('restart on-failure: a SIGTERM from outside is a failure (143) and restarts; stop and kill by the user do not', async () => {
  assert.equal((await run(['run', '-d', '--restart', 'on-failure', '--name', 'rs', 'hello', 'idle'])).code, 0);
  const first = await waitFor('rs running with its VM pid', async () => {
    const i = await inspect('rs');
    return i.state === 'running' && i.pid !== null && existsSync(`/proc/${i.pid}`) && readFileSync(`/proc/${i.pid}/cmdline`, 'utf8').startsWith('qemu') ? i.pid : undefined;
  }, 60_000);
  process.kill(first, 'SIGTERM');
  await waitFor('rs restarted', async () => {
    const i = await inspect('rs');
    return i.restartCount === 1 && i.state === 'running' ? i : undefined;
  }, 60_000);
  // The exit that caused the restart (a new start clears the last exit, as Docker's does).
  const events = await run(['events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'instance=rs', '--filter', 'event=die', '--format', 'json']);
  assert.match(events.stdout, /"exitCode":"?143/, events.stdout + events.stderr);

  // A stop by the user: 143 again (its SIGTERM ended QEMU, the guest has no power button), no restart.
  assert.equal((await run(['stop', '-t', '0', 'rs'])).code, 0);
  const stopped = await inspect('rs');
  assert.deepEqual([stopped.state, stopped.exitCode, stopped.exitSource, stopped.restartCount], ['exited', 143, 'signal', 1]);
  // A kill by the user with any signal is a manual stop too (dockerd's kill).
  assert.equal((await run(['start', 'rs'])).code, 0);
  await waitFor('rs running', async () => ((await inspect('rs')).state === 'running' ? true : undefined), 60_000);
  assert.equal((await run(['kill', '-s', 'HUP', 'rs'])).code, 0);
  const killed = await waitFor('rs exited', async () => {
    const i = await inspect('rs');
    return i.state === 'exited' ? i : undefined;
  }, 30_000);
  assert.deepEqual([killed.exitCode, killed.restartCount], [129, 1]);
  assert.match((await run(['ps', '-a'])).stdout, /Exited \(129\) .* rs\n/);
  await run(['rm', 'rs']);
});

test('a Rumprun guest that halts after "=== _exit(N) called ===" is seen as exited with N (run --rm returns)', async () => {
  const halt = join(repo, 'build', 'kernels', 'halt.elf');
  assert.equal((await run(['import', '--family', 'rumprun', halt, 'halts'])).code, 0);
  const t0 = Date.now();
  const r = await run(['run', '--rm', '--name', 'rr', 'halts', 'exit=4']);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stdout, /=== ERROR: _exit\(4\) called ===\n/);
  assert.ok(!(await names()).includes('rr'), 'removed (--rm)');
  const kept = await run(['run', '--name', 'rr2', 'halts', 'exit=0']);
  assert.equal(kept.code, 0, kept.stderr);
  const info = await inspect('rr2');
  assert.deepEqual([info.exitCode, info.exitCodeKnown, info.exitSource], [0, true, 'console']);
  assert.ok(Date.now() - t0 < 60_000);
  await run(['rm', 'rr2']);
});

test('a Solo5 guest: its console line gives the code (QEMU says 83 for every ending)', async () => {
  assert.equal((await run(['import', '--family', 'solo5', join(repo, 'build', 'kernels', 'solo5.elf'), 's5'])).code, 0);
  const three = await run(['run', '--name', 's5-3', 's5', 'exit=3']);
  assert.equal(three.code, 3, three.stderr + three.stdout);
  assert.deepEqual(((i) => [i.exitCode, i.exitCodeKnown, i.exitSource])(await inspect('s5-3')), [3, true, 'console']);
  const aborted = await run(['run', '--rm', 's5', 'abort']);
  assert.equal(aborted.code, 255, aborted.stderr + aborted.stdout);
  await run(['rm', 's5-3']);
});

test('logs -f: when the daemon dies mid-follow it says so in one line and exits 125', async () => {
  const dd = await startDaemon();
  try {
    assert.equal((await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: dd.socket })).code, 0);
    assert.equal((await cli(['run', '-d', '--name', 'followed', 'hello', 'idle'], { socket: dd.socket })).code, 0);
    const p = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${dd.socket}`, 'logs', '-f', 'followed'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = new Promise<number | null>((r) => p.on('close', r));
    await waitFor('the follower to print the guest ready', () => out.includes('ready\n') || undefined, 60_000);
    dd.proc.kill('SIGKILL');
    assert.equal(await code, 125);
    assert.equal(err, 'cunik: the daemon closed the connection before the instance exited\n');
  } finally {
    await dd.stop();
  }
});
