// One daemon per root, by a lock the kernel releases with its holder (src/daemon/lock.ts): two
// daemons started at the same instant, a lock taken before its pid is written, a pid file naming
// a process that merely mentions cunikd, and a SIGKILLed daemon's root taken over.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CunikClient } from '../../src/client/index.js';
import { DAEMON_NODE_FLAGS } from '../../src/config/defaults.js';
import { repo, startDaemon, waitFor } from '../helpers/daemon.js';

interface Started {
  proc: ChildProcess;
  socket: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function daemon(root: string, socket: string): Started {
  const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, join(repo, 'bin', 'cunikd.js'), '--root', root, '--host', socket, '--accel', 'tcg'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, socket, stderr: () => err, exited };
}

/** Resolves when the daemon answers on its socket, or rejects when it exits first. */
async function serving(d: Started): Promise<void> {
  const client = new CunikClient(d.socket);
  let gone = false;
  void d.exited.then(() => (gone = true));
  try {
    for (;;) {
      try {
        await client.ping();
        return;
      } catch {
        if (gone) throw new Error(`exited: ${d.stderr()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  } finally {
    client.close();
  }
}

async function stop(d: Started): Promise<void> {
  if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGTERM');
  await d.exited;
}

const pidFile = (root: string): string => join(root, 'cunikd.pid');

test('two daemons started at the same instant on one root: exactly one wins, the other says who has it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cunik-lock-'));
  try {
    for (let round = 0; round < 3; round++) {
      const root = join(dir, `root${round}`);
      const pair = [daemon(root, join(dir, `a${round}.sock`)), daemon(root, join(dir, `b${round}.sock`))];
      const outcome = await Promise.all(pair.map((d) => serving(d).then(() => 'serving', () => 'exited')));
      try {
        assert.deepEqual([...outcome].sort(), ['exited', 'serving'], `round ${round}: ${pair.map((d) => d.stderr()).join(' | ')}`);
        const winner = pair[outcome.indexOf('serving')]!;
        const loser = pair[outcome.indexOf('exited')]!;
        assert.equal(await loser.exited, 1);
        assert.equal(loser.stderr(), `cunikd: another cunikd is using root ${root} (pid ${winner.proc.pid})\n`);
        assert.equal(readFileSync(pidFile(root), 'utf8'), `${winner.proc.pid}\n`);
      } finally {
        await Promise.all(pair.map(stop));
      }
      assert.equal(readFileSync(pidFile(root), 'utf8'), '', 'a stopped daemon empties its pid file (and leaves the file)');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a root locked by a holder that has not written its pid yet is not taken', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cunik-lock-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(pidFile(root), '');
  const holder = spawn('flock', [pidFile(root), 'sh', '-c', 'echo locked; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
    const d = daemon(root, join(dir, 'd.sock'));
    try {
      assert.equal(await serving(d).then(() => 'serving', () => 'exited'), 'exited');
    } finally {
      await stop(d);
    }
    assert.equal(await d.exited, 1);
    assert.equal(d.stderr(), `cunikd: another cunikd is using root ${root}\n`);
    assert.equal(readFileSync(pidFile(root), 'utf8'), '', 'the holder\'s file is left alone');
  } finally {
    holder.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('a pid file naming a live process that only mentions cunikd (tail -f cunikd.log) is no lock; SIGKILL releases the lock', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cunik-lock-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  writeFileSync(join(dir, 'cunikd.log'), '');
  const tail = spawn('tail', ['-f', join(dir, 'cunikd.log')], { stdio: 'ignore' });
  try {
    // Until tail has exec'd, its cmdline is still node's (or empty): wait for it, on a busy
    // machine that can take a while.
    await waitFor('tail -f to run', () => (readFileSync(`/proc/${tail.pid}/cmdline`, 'utf8').includes('cunikd') ? true : undefined));
    writeFileSync(pidFile(root), `${tail.pid}\n`);
    const first = await startDaemon({ dir });
    assert.equal(readFileSync(pidFile(root), 'utf8'), `${first.proc.pid}\n`);
    const gone = new Promise((r) => first.proc.once('exit', r));
    first.proc.kill('SIGKILL');
    await gone;
    first.client.close();
    assert.equal(readFileSync(pidFile(root), 'utf8'), `${first.proc.pid}\n`, 'a killed daemon leaves its pid behind');
    const second = await startDaemon({ dir });
    assert.equal(readFileSync(pidFile(root), 'utf8'), `${second.proc.pid}\n`);
    await second.stop();
  } finally {
    tail.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
