// logs (--tail, --timestamps, --since, -f), the console cap, output written while the daemon was
// down, attach and run -i/-t: the real CLI against real daemons and QEMU (TCG).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, repo, startDaemon, waitFor, type CliOptions, type CliResult, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const run = (args: string[], opts: Omit<CliOptions, 'socket'> = {}) => cli(args, { ...opts, socket: d.socket });

before(async () => {
  d = await startDaemon();
  const imported = await run(['import', '--family', 'generic', helloKernel, 'hello']);
  assert.equal(imported.code, 0, imported.stderr);
});
after(async () => d.stop());

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$/;

/** An `echo` instance (detached) that has printed `echo: ready`, so input from now on is read. */
async function echoInstance(daemon: TestDaemon, name: string): Promise<string> {
  const r = await cli(['run', '-d', '--name', name, 'hello', 'echo'], { socket: daemon.socket });
  assert.equal(r.code, 0, r.stderr);
  await waitFor(`${name} ready`, async () => (await cli(['logs', name], { socket: daemon.socket })).stdout.includes('echo: ready') || undefined);
  return r.stdout.trim();
}

const N_LINE = /^echo: n(\d{5})$/;
/** The lines the flood test expects in the log (besides those printed before it). */
const KNOWN = [N_LINE, /^exit: 0$/];

/**
 * QEMU 7.2 logs a byte twice when its write to a connected console client fails with EAGAIN and
 * the serial device retries it (docs/console.md). The ways to undo that in one line: the line
 * itself if it is a known one, else each removal of one of its doubled bytes that makes it one.
 */
function undoings(lineText: string): string[] {
  if (KNOWN.some((re) => re.test(lineText))) return [lineText];
  const fixed = new Set<string>();
  for (let i = 0; i + 1 < lineText.length; i++) {
    if (lineText[i] !== lineText[i + 1]) continue;
    const candidate = lineText.slice(0, i) + lineText.slice(i + 1);
    if (KNOWN.some((re) => re.test(candidate))) fixed.add(candidate);
  }
  return fixed.size ? [...fixed] : [lineText];
}

const numberOf = (lineText: string | undefined): number | undefined => {
  const m = lineText === undefined ? null : N_LINE.exec(lineText);
  return m ? Number(m[1]) : undefined;
};

/**
 * The lines of a log with QEMU's doubled bytes undone. Where more than one removal fits
 * ("echo: n003118" is n00318 with its 1 doubled, or n03118 with a 0 doubled), the one that
 * continues the numbering of a neighbouring line is taken.
 */
function clean(out: string): string[] {
  const options = out.split('\n').map(undoings);
  return options.map((opts, i) => {
    if (opts.length === 1) return opts[0]!;
    const prev = options[i - 1]?.length === 1 ? numberOf(options[i - 1]![0]) : undefined;
    const next = options[i + 1]?.length === 1 ? numberOf(options[i + 1]![0]) : undefined;
    const fits = (o: string): boolean => {
      const n = numberOf(o);
      return n !== undefined && ((prev !== undefined && n === prev + 1) || (next !== undefined && n === next - 1));
    };
    return opts.find(fits) ?? opts[0]!;
  });
}

/** The numbers of the `echo: nNNNNN` lines, in order (other lines skipped). */
function echoNumbers(out: string): number[] {
  return clean(out)
    .map(numberOf)
    .filter((n): n is number => n !== undefined);
}

function assertConsecutive(nums: number[], first: number, last: number, what: string): void {
  assert.equal(nums[0], first, `${what} starts at ${nums[0]}`);
  assert.equal(nums[nums.length - 1], last, `${what} ends at ${nums[nums.length - 1]}`);
  for (let i = 1; i < nums.length; i++) assert.equal(nums[i], nums[i - 1]! + 1, `${what}: ${nums[i - 1]} is followed by ${nums[i]}`);
}

test('logs --tail N prints the last N lines; --tail all and 0; a bad count is refused', async () => {
  const r = await run(['run', '--name', 'tailed', 'hello', 'exit=0', 'a', 'b']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await run(['logs', '--tail', '2', 'tailed'])).stdout, 'arg: b\nexit: 0\n');
  assert.equal((await run(['logs', '-n', '1', 'tailed'])).stdout, 'exit: 0\n');
  assert.equal((await run(['logs', '--tail', '0', 'tailed'])).stdout, '');
  const all = await run(['logs', '--tail', 'all', 'tailed']);
  assert.equal(all.stdout, r.stdout);
  const bad = await run(['logs', '--tail', 'many', 'tailed']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /tail/);
  await run(['rm', 'tailed']);
});

test('logs --timestamps prefixes every line with the RFC 3339 time it was written', async () => {
  const before = Date.now();
  const r = await run(['run', '--name', 'stamped', 'hello', 'exit=0']);
  const after = Date.now();
  assert.equal(r.code, 0, r.stderr);
  const out = await run(['logs', '-t', 'stamped']);
  const lines = out.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, r.stdout.split('\n').filter(Boolean).length);
  for (const l of lines) {
    const m = STAMP.exec(l);
    assert.ok(m, `not timestamped: ${JSON.stringify(l)}`);
    const t = Date.parse(m[1]!);
    assert.ok(t >= before - 1000 && t <= after + 1000, `${m[1]} is not within the run`);
  }
  assert.deepEqual(
    lines.map((l) => STAMP.exec(l)![2]),
    r.stdout.split('\n').filter(Boolean),
  );
  assert.match((await run(['logs', '--timestamps', '--tail', '1', 'stamped'])).stdout, /^\S+Z exit: 0\n$/);
  await run(['rm', 'stamped']);
});

test('logs --since and --until pick lines by when they were written', async () => {
  await echoInstance(d, 'sincer');
  await new Promise((r) => setTimeout(r, 300));
  const mark = Date.now();
  await new Promise((r) => setTimeout(r, 300));
  const attached = await run(['attach', 'sincer'], { input: 'after the mark\nexit=0\n' });
  assert.equal(attached.code, 0, attached.stderr);
  const since = await run(['logs', '--since', (mark / 1000).toFixed(3), 'sincer']);
  assert.equal(since.code, 0, since.stderr);
  assert.equal(since.stdout, 'echo: after the mark\nexit: 0\n');
  const iso = await run(['logs', '--since', new Date(mark).toISOString(), 'sincer']);
  assert.equal(iso.stdout, since.stdout);
  const until = await run(['logs', '--until', (mark / 1000).toFixed(3), 'sincer']);
  assert.match(until.stdout, /^Hello from the Cunik test kernel\n[^]*echo: ready\n$/);
  assert.equal((await run(['logs', '--since', '1h', 'sincer'])).stdout, until.stdout + since.stdout);
  assert.equal((await run(['logs', '--since', '1h', '--until', '0s', 'sincer'])).stdout, until.stdout + since.stdout);
  const bad = await run(['logs', '--since', 'yesterday', 'sincer']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /since/);
  await run(['rm', 'sincer']);
});

test('logs -f streams new output and ends when the instance exits', async () => {
  await echoInstance(d, 'followed');
  const following = run(['logs', '-f', 'followed']);
  await new Promise((r) => setTimeout(r, 300));
  const attached = await run(['attach', 'followed'], { input: 'followed line\nexit=3\n' });
  assert.equal(attached.code, 3, attached.stderr);
  const f = await following;
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stdout, /^Hello from the Cunik test kernel\n[^]*echo: ready\necho: followed line\nexit: 3\n$/);
  await run(['rm', 'followed']);
});

test('attach: lines go to the guest and come back; exit=4 ends attach with code 4', async () => {
  await echoInstance(d, 'talker');
  const r = await run(['attach', 'talker'], { input: 'hello\nworld\nexit=4\n' });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stdout, 'echo: hello\necho: world\nexit: 4\n');
  const [info] = JSON.parse((await run(['inspect', 'talker'])).stdout) as { state: string; exitCode: number }[];
  assert.equal(info!.state, 'exited');
  assert.equal(info!.exitCode, 4);
  const stopped = await run(['attach', 'talker']);
  assert.equal(stopped.code, 125);
  assert.match(stopped.stderr, /stopped.*start it first/);
  await run(['rm', 'talker']);
});

test('attach: Ctrl-P Ctrl-Q detaches (exit 0) and leaves the instance running; a new attach still works', async () => {
  await echoInstance(d, 'stayer');
  const r = await run(['attach', 'stayer'], {
    interact: async (s) => {
      s.stdin.write('one\n');
      await s.output(/echo: one\n/);
      s.stdin.write('\x10\x11');
    },
    keepStdin: true,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'echo: one\n');
  assert.match((await run(['ps'])).stdout, /stayer/);
  // The detach keys never reached the guest: the next line comes back clean.
  const again = await run(['attach', 'stayer'], { input: 'two\nexit=0\n' });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, 'echo: two\nexit: 0\n');
  // Other keys work too, and piped input ending is not a detach.
  await run(['rm', 'stayer']);
  await echoInstance(d, 'keyed');
  const keyed = await run(['attach', '--detach-keys', 'ctrl-a,x', 'keyed'], { input: 'three\n\x01x' });
  assert.equal(keyed.code, 0, keyed.stderr);
  assert.match((await run(['ps'])).stdout, /keyed/);
  assert.equal((await run(['rm', '-f', 'keyed'])).code, 0);
});

test('run -i attaches at start: all output from the first byte, input reaches the guest, exit code passed on', async () => {
  const r = await run(['run', '-i', '--rm', 'hello', 'echo'], {
    interact: async (s) => {
      await s.output(/echo: ready\n/);
      s.stdin.write('hi\nexit=5\n');
    },
    keepStdin: true,
  });
  assert.equal(r.code, 5, r.stderr);
  assert.equal(r.stdout, 'Hello from the Cunik test kernel\ncmdline: echo\nboot: multiboot\necho: ready\necho: hi\nexit: 5\n');
  const t = await run(['run', '-t', '--rm', 'hello', 'exit=3']);
  assert.equal(t.code, 3, t.stderr);
  assert.match(t.stdout, /^Hello from the Cunik test kernel\n[^]*exit: 3\n$/);
});

test('run -i: the detach keys leave the instance running and exit 0', async () => {
  const r = await run(['run', '-i', '--name', 'runaway', 'hello', 'echo'], {
    interact: async (s) => {
      await s.output(/echo: ready\n/);
      s.stdin.write('\x10\x11');
    },
    keepStdin: true,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match((await run(['ps'])).stdout, /runaway/);
  assert.equal((await run(['rm', '-f', 'runaway'])).code, 0);
});

test('a stopping daemon ends attach and run -i sessions at once; the instance runs on and can be attached again', async () => {
  let dd = await startDaemon();
  const sessions: ReturnType<typeof spawn>[] = [];
  try {
    const use = (args: string[], opts: Omit<CliOptions, 'socket'> = {}) => cli(args, { ...opts, socket: dd.socket });
    assert.equal((await use(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
    await echoInstance(dd, 'attached');
    const open = (args: string[]) => {
      const p = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${dd.socket}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      sessions.push(p);
      const s = { stdout: '', stderr: '', code: new Promise<number | null>((r) => p.on('close', r)), stdin: p.stdin };
      p.stdout.on('data', (b: Buffer) => (s.stdout += b.toString()));
      p.stderr.on('data', (b: Buffer) => (s.stderr += b.toString()));
      return s;
    };
    // One session reads QEMU's socket (attach), one the log (run -i: opened before the start).
    const attach = open(['attach', 'attached']);
    attach.stdin.write('first\n');
    await waitFor('the attach session', () => attach.stdout.includes('echo: first\n') || undefined, 30_000);
    const runI = open(['run', '-i', '--name', 'interactive', 'hello', 'echo']);
    await waitFor('the run -i session', () => runI.stdout.includes('echo: ready\n') || undefined, 30_000);
    const t0 = Date.now();
    dd.proc.kill('SIGTERM');
    const stopped = await Promise.race([new Promise<boolean>((r) => dd.proc.once('exit', () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref())]);
    assert.ok(stopped && Date.now() - t0 < 3000, `the daemon took ${Date.now() - t0} ms to stop${stopped ? '' : ' (still running)'}`);
    for (const s of [attach, runI]) {
      assert.equal(await s.code, 125);
      assert.match(s.stderr, /^cunik: the daemon closed the connection before the instance exited\n$/);
    }
    // The instances ran on: a new daemon re-adopts them and attaches.
    dd = await startDaemon({ dir: dd.dir });
    for (const name of ['attached', 'interactive']) {
      const r = await cli(['attach', name], { socket: dd.socket, input: 'again\nexit=2\n' });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, 'echo: again\nexit: 2\n');
    }
  } finally {
    for (const p of sessions) p.kill('SIGKILL');
    await dd.stop();
  }
});

test('the console is capped with one backup; logs and a follower see one unbroken stream', async () => {
  const small = await startDaemon({ args: ['--accel', 'tcg', '--log-max-size', '16k'] });
  try {
    const use = (args: string[], opts: Omit<CliOptions, 'socket'> = {}) => cli(args, { ...opts, socket: small.socket });
    assert.equal((await use(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
    const id = await echoInstance(small, 'chatty');
    const following = use(['logs', '-f', 'chatty']);
    const count = 4000; // 13 bytes each: about 52 KiB of output, three rotations at 16 KiB, the oldest output dropped
    const input = Array.from({ length: count }, (_, i) => `n${String(i).padStart(5, '0')}\n`).join('') + 'exit=0\n';
    const attached = await use(['attach', 'chatty'], { input });
    assert.equal(attached.code, 0, attached.stderr);
    // The attached client reads QEMU's socket: exact.
    assertConsecutive(echoNumbers(attached.stdout), 0, count - 1, 'attach');
    assert.equal(attached.stdout.split('\n').filter((l) => l !== '' && !N_LINE.test(l)).join('\n'), 'exit: 0');

    const dir = join(small.root, 'instances', id);
    // The daemon cuts the log when it sees it grow: its last look may come just after the exit.
    const cutBelowCap = (): boolean => statSync(join(dir, 'console.log')).size < 16 * 1024 + 4096;
    await waitFor('console.log cut below the cap', () => cutBelowCap() || undefined).catch(() => undefined);
    const log = statSync(join(dir, 'console.log')).size;
    assert.ok(existsSync(join(dir, 'console.log.1')), 'rotated');
    const backup = statSync(join(dir, 'console.log.1')).size;
    assert.ok(log < 16 * 1024 + 4096, `console.log is ${log} bytes`);
    assert.ok(backup <= 16 * 1024, `console.log.1 is ${backup} bytes`);

    const logs = await use(['logs', 'chatty']);
    const kept = echoNumbers(logs.stdout);
    assert.ok(kept.length > 1000, `only ${kept.length} lines kept`);
    const logText = clean(logs.stdout).join('\n');
    assert.match(logText, /^echo: n\d{5}\n/, 'the oldest kept line is whole');
    assertConsecutive(kept, kept[0]!, count - 1, 'logs');
    assert.match(logText, /\nexit: 0\n$/);

    const f = await following;
    assert.equal(f.code, 0, f.stderr);
    assertConsecutive(echoNumbers(f.stdout), 0, count - 1, 'logs -f');
    assert.match(f.stdout, /^Hello from the Cunik test kernel\n/);
    const tail = await use(['logs', '--tail', '3', 'chatty']);
    assert.equal(clean(tail.stdout).join('\n'), `echo: n${String(count - 2).padStart(5, '0')}\necho: n${String(count - 1).padStart(5, '0')}\nexit: 0\n`);
  } finally {
    await small.stop();
  }
});

/** With no daemon: send a line to the echo guest on QEMU's console socket and wait for its echo. */
function echoDirect(daemon: TestDaemon, id: string, text: string): Promise<void> {
  const sock = join(daemon.root, 'sock', `${id.slice(0, 24)}.con`);
  return new Promise<void>((resolve, reject) => {
    const c = connect(sock);
    let got = '';
    c.on('data', (b) => {
      got += b.toString();
      if (got.includes(`echo: ${text}\n`)) c.end();
    });
    c.on('connect', () => c.write(`${text}\n`));
    c.on('close', () => (got.includes(`echo: ${text}\n`) ? resolve() : reject(new Error(`no echo of ${text} (got ${JSON.stringify(got)})`))));
    c.on('error', reject);
  });
}

/**
 * How far a file's time may lag Date.now(): the kernel stamps files from its coarse clock, which
 * is updated once per tick (4 ms at HZ=250) and later after an idle stretch; 6 ms was seen here.
 */
const FILE_CLOCK_LAG_MS = 20;

test('output written while the daemon was down is kept, stamped with the time of the last write', async () => {
  let down = await startDaemon();
  try {
    assert.equal((await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: down.socket })).code, 0);
    const id = await echoInstance(down, 'survivor');
    await down.stop({ keepFiles: true }); // instances keep running
    const written = Date.now();
    await echoDirect(down, id, 'while down');
    await new Promise((r) => setTimeout(r, 1500));
    down = await startDaemon({ dir: down.dir });
    const restarted = Date.now();
    const logs = await cli(['logs', '-t', 'survivor'], { socket: down.socket });
    const last = logs.stdout.trim().split('\n').pop()!;
    const m = STAMP.exec(last);
    assert.ok(m, last);
    assert.equal(m[2], 'echo: while down');
    const t = Date.parse(m[1]!);
    assert.ok(t >= written - FILE_CLOCK_LAG_MS && t < restarted - 1000, `stamped ${m[1]}: not when it was written (${new Date(written).toISOString()})`);
    // And the instance is still attachable through the new daemon.
    const r = await cli(['attach', 'survivor'], { socket: down.socket, input: 'back\nexit=6\n' });
    assert.equal(r.code, 6, r.stderr);
    assert.equal(r.stdout, 'echo: back\nexit: 6\n');
    assert.match(readFileSync(join(down.root, 'instances', id, 'console.log'), 'utf8'), /echo: while down\necho: back\nexit: 6\n$/);
  } finally {
    await down.stop();
  }
});

test('after kill -9 of the daemon: the re-adopted instance keeps what it printed meanwhile; logs -f and attach work', async () => {
  let dd = await startDaemon();
  try {
    assert.equal((await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: dd.socket })).code, 0);
    const id = await echoInstance(dd, 'phoenix');
    dd.proc.kill('SIGKILL'); // no clean-up at all
    await new Promise((r) => dd.proc.once('exit', r));
    const written = Date.now();
    await echoDirect(dd, id, 'while crashed');
    dd = await startDaemon({ dir: dd.dir });
    const use = (args: string[], opts: Omit<CliOptions, 'socket'> = {}) => cli(args, { ...opts, socket: dd.socket });
    assert.match((await use(['ps'])).stdout, /phoenix/, 're-adopted');
    const logs = await use(['logs', '-t', 'phoenix']);
    const last = STAMP.exec(logs.stdout.trim().split('\n').pop()!);
    assert.ok(last, logs.stdout);
    assert.equal(last[2], 'echo: while crashed');
    assert.ok(Date.parse(last[1]!) >= written - FILE_CLOCK_LAG_MS, `stamped ${last[1]}, before it was written`);
    // A follower of the re-adopted instance sees new output and ends at its exit.
    let attaching: Promise<CliResult> | undefined;
    const f = await use(['logs', '-f', 'phoenix'], {
      interact: async (s) => {
        await s.output(/echo: while crashed\n/); // streaming: what follows comes while it follows
        attaching = use(['attach', 'phoenix'], { input: 'after restart\nexit=7\n' });
        await attaching;
      },
    });
    assert.ok(attaching, 'the follower ended before the attach');
    const r = await attaching;
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, 'echo: after restart\nexit: 7\n');
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /^Hello from the Cunik test kernel\n[^]*echo: ready\necho: while crashed\necho: after restart\nexit: 7\n$/);
    const [info] = JSON.parse((await use(['inspect', 'phoenix'])).stdout) as { state: string; exitCode: number }[];
    assert.equal(info!.state, 'exited');
    assert.equal(info!.exitCode, 7);
  } finally {
    await dd.stop();
  }
});
