// cunik-spawner: the daemon never forks; the helper starts each VM's shim, reports its exit, and
// neither its death nor the daemon's ends a VM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Spawner } from '../../src/vmm/spawner.js';
import { CunikClient } from '../../src/client/index.js';
import { DAEMON_NODE_FLAGS } from '../../src/config/defaults.js';
import { cli, helloKernel, killInstances, repo, startDaemon, waitFor } from '../helpers/daemon.js';

const spawnerBin = join(repo, 'build', 'bin', 'cunik-spawner');
const tmp = mkdtempSync(join(tmpdir(), 'cunik-spawner-'));
// Like an unref()ed child, a process the spawner runs does not keep this one alive: the tests do.
const keepAlive = setInterval(() => undefined, 1000);
after(() => {
  clearInterval(keepAlive);
  rmSync(tmp, { recursive: true, force: true });
});

/** ppid, session id and command name of a live process (undefined once gone or a zombie). */
function proc(pid: number): { ppid: number; sid: number; comm: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X') return undefined;
    return { ppid: Number(f[1]), sid: Number(f[3]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) };
  } catch {
    return undefined;
  }
}

const childrenOf = (ppid: number): number[] =>
  readdirSync('/proc')
    .map(Number)
    .filter((pid) => pid > 0 && proc(pid)?.ppid === ppid);

test('the spawner starts programs in their own session, with stderr in a file, and reports how they ended', async () => {
  const s = new Spawner(spawnerBin);
  try {
    const err = join(tmp, 'err.log');
    const a = await s.spawn(['/bin/sh', '-c', 'echo oops >&2; exit 3'], { stderrFile: err });
    assert.deepEqual(await a.exited, { code: 3, signal: null });
    assert.equal(readFileSync(err, 'utf8'), 'oops\n');

    const b = await s.spawn(['/bin/sleep', '30']);
    assert.equal(proc(b.pid)?.sid, b.pid, 'a session of its own');
    assert.equal(proc(b.pid)?.ppid, s.pid, 'a child of the spawner, not of this process');
    process.kill(b.pid, 'SIGKILL');
    assert.deepEqual(await b.exited, { code: null, signal: 'SIGKILL' });

    // notifyFd: the process reports its own end on fd 3 (as cunik-shim does), ahead of the reap;
    // without it, fd 3 is not open.
    const n = await s.spawn(['/bin/sh', '-c', 'echo "exit $$ 5 0" >&3; exec 3>&-; sleep 0.3; exit 1'], { notifyFd: true });
    assert.deepEqual(await n.exited, { code: 5, signal: null });
    const closed = await s.spawn(['/bin/sh', '-c', 'test -e /proc/$$/fd/3 && exit 9; exit 0']);
    assert.deepEqual(await closed.exited, { code: 0, signal: null });

    await assert.rejects(s.spawn(['/no/such/program']), /cannot start \/no\/such\/program: ENOENT/);
  } finally {
    s.close();
  }
});

test('a spawner that dies leaves its processes running, reports them lost, and is replaced', async () => {
  const s = new Spawner(spawnerBin);
  try {
    const c = await s.spawn(['/bin/sleep', '30']);
    const first = s.pid!;
    process.kill(first, 'SIGKILL');
    assert.equal(await c.exited, 'lost');
    assert.ok(proc(c.pid), 'still running');
    process.kill(c.pid, 'SIGKILL');
    const d = await s.spawn(['/bin/true']);
    assert.notEqual(s.pid, first);
    assert.deepEqual(await d.exited, { code: 0, signal: null });
  } finally {
    s.close();
  }
});

test('cunikd: VMs are started by the spawner; its death, or the daemon\'s, ends no VM', async () => {
  let d = await startDaemon();
  const run = (args: string[]) => cli(args, { socket: d.socket });
  try {
    assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
    assert.equal((await run(['run', '-d', '--name', 'a', 'hello', 'idle'])).code, 0);
    const qemu = (await d.client.inspectInstance('a')).pid!;
    const shim = proc(qemu)!.ppid;
    const spawner = proc(shim)!.ppid;
    assert.equal(proc(spawner)?.comm, 'cunik-spawner');
    assert.equal(proc(spawner)?.ppid, d.proc.pid, 'the spawner is the daemon\'s child; the shim is not');
    assert.deepEqual(childrenOf(d.proc.pid!), [spawner], 'the daemon forked nothing else');

    // The spawner dies: the VM runs on and its exit is still seen, with its code.
    process.kill(spawner, 'SIGKILL');
    await waitFor('spawner gone', () => (proc(spawner) ? undefined : true));
    assert.equal((await d.client.inspectInstance('a')).state, 'running');
    process.kill(qemu, 'SIGKILL');
    const exited = await waitFor('exit seen', async () => {
      const i = await d.client.inspectInstance('a');
      return i.state === 'exited' ? i : undefined;
    }, 5000);
    assert.equal(exited.exitCode, 137);
    // A new spawner serves the next start.
    assert.equal((await run(['run', '-d', '--name', 'b', 'hello', 'idle'])).code, 0);
    const b = (await d.client.inspectInstance('b')).pid!;
    const spawner2 = proc(proc(b)!.ppid)!.ppid;
    assert.notEqual(spawner2, spawner);
    assert.equal(proc(spawner2)?.comm, 'cunik-spawner');

    // kill -9 of the daemon: the spawner follows it (EOF on its pipe), the VM does not.
    const gone = new Promise((r) => d.proc.once('exit', r));
    d.proc.kill('SIGKILL');
    await gone;
    d.client.close();
    await waitFor('spawner exits with the daemon', () => (proc(spawner2) ? undefined : true));
    assert.ok(proc(b), 'the VM runs on');
    d = await startDaemon({ dir: d.dir });
    assert.equal((await d.client.inspectInstance('b')).state, 'running');
    assert.equal((await d.client.inspectInstance('b')).pid, b);
    assert.equal((await run(['rm', '-f', 'a', 'b'])).code, 0);
    assert.ok(!existsSync(join(d.root, 'instances', 'b')));
  } finally {
    await d.stop();
  }
});

test('restart then kill: the previous run\'s exit status never passes for the next run\'s', async () => {
  const d = await startDaemon();
  try {
    assert.equal((await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: d.socket })).code, 0);
    const { id } = await d.client.createInstance({ image: 'hello', args: ['idle'] });
    for (let i = 0; i < 6; i++) {
      await d.client.startInstance(id);
      await d.client.restartInstance(id, 0); // the first run exits 0 on SIGTERM
      await d.client.killInstance(id); // the second is SIGKILLed: 137, not the first run's 0
      assert.equal((await d.client.inspectInstance(id)).exitCode, 137, `round ${i}`);
    }
  } finally {
    await d.stop();
  }
});

/** The THP_enabled line of /proc/PID/status: 0 once prctl(PR_SET_THP_DISABLE) applies to it. */
const thpEnabled = (pid: number): string | undefined => /THP_enabled:\s*(\d)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];

test('VMs run without transparent huge pages unless cunikd --vm-thp, and behind the control plane in priority; info says which', { skip: thpEnabled(process.pid) === undefined && 'kernel without THP_enabled in /proc/PID/status' }, async () => {
  for (const vmThp of [false, true]) {
    const d = await startDaemon({ args: ['--accel', 'tcg', ...(vmThp ? ['--vm-thp'] : [])] });
    const run = (args: string[]) => cli(args, { socket: d.socket });
    try {
      assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
      assert.equal((await run(['run', '-d', '--name', 'a', 'hello', 'idle'])).code, 0);
      const qemu = (await d.client.inspectInstance('a')).pid!;
      assert.equal(proc(qemu)?.comm, 'qemu-system-x86');
      assert.equal(thpEnabled(qemu), vmThp ? thpEnabled(process.pid) : '0');
      assert.match((await run(['info'])).stdout, new RegExp(`^VM Transparent Huge Pages: ${vmThp ? 'on' : 'off'}$`, 'm'));
      if (process.getuid?.() === 0) {
        // The control plane runs ahead of its VMs; the VM gets back the daemon's starting priority.
        const ours = getPriority();
        assert.equal(getPriority(d.proc.pid!), Math.max(-20, ours - 5), 'the daemon runs 5 nice values ahead');
        assert.equal(getPriority(proc(qemu)!.ppid), Math.max(-20, ours - 5), 'so do the shims');
        assert.equal(getPriority(qemu), ours, 'the VM runs at the priority the daemon was started with');
      }
      assert.equal((await run(['rm', '-f', 'a'])).code, 0);
    } finally {
      await d.stop();
    }
  }
});

test("cunikd --tcg-tb-size caps TCG's translation cache of each VM; by default QEMU keeps its own", async () => {
  for (const size of [undefined, 16]) {
    const d = await startDaemon({ args: ['--accel', 'tcg', ...(size !== undefined ? ['--tcg-tb-size', String(size)] : [])] });
    const run = (args: string[]) => cli(args, { socket: d.socket });
    try {
      assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
      assert.equal((await run(['run', '-d', '--name', 'a', 'hello', 'idle'])).code, 0);
      const argv = readFileSync(`/proc/${(await d.client.inspectInstance('a')).pid!}/cmdline`, 'utf8').split('\0');
      assert.equal(argv[argv.indexOf('-accel') + 1], size === undefined ? 'tcg' : `tcg,tb-size=${size}`);
      assert.match((await run(['info'])).stdout, new RegExp(`^TCG Translation Cache: ${size === undefined ? "QEMU's default" : `${size} MiB per VM`}$`, 'm'));
      assert.equal((await d.client.info()).tcgTbSizeMiB, size ?? 0);
      assert.equal((await run(['rm', '-f', 'a'])).code, 0);
    } finally {
      await d.stop();
    }
  }
});

test("guest RAM is not mergeable by the host's KSM unless cunikd --vm-ksm", async () => {
  for (const ksm of [false, true]) {
    const d = await startDaemon({ args: ['--accel', 'tcg', ...(ksm ? ['--vm-ksm'] : [])] });
    const run = (args: string[]) => cli(args, { socket: d.socket });
    try {
      assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
      assert.equal((await run(['run', '-d', '--name', 'a', 'hello', 'idle'])).code, 0);
      // VmFlags "mg": madvise(MADV_MERGEABLE), which QEMU applies to guest RAM unless mem-merge=off.
      const smaps = readFileSync(`/proc/${(await d.client.inspectInstance('a')).pid!}/smaps`, 'utf8');
      const mergeable = smaps.split('\n').filter((l) => l.startsWith('VmFlags:') && / mg( |$)/.test(l)).length;
      if (ksm) assert.ok(mergeable > 0, 'with --vm-ksm the guest RAM is mergeable');
      else assert.equal(mergeable, 0, 'no mapping of the VM is mergeable');
      assert.match((await run(['info'])).stdout, new RegExp(`^VM Memory Merging \\(KSM\\): ${ksm ? 'on' : 'off'}$`, 'm'));
      assert.equal((await run(['rm', '-f', 'a'])).code, 0);
    } finally {
      await d.stop();
    }
  }
});

test('a descriptor the daemon inherited from whoever started it reaches no shim and no VM', async () => {
  const dir = mkdtempSync(join(tmp, 'fds-'));
  const socket = join(dir, 's');
  const marker = join(dir, 'inherited');
  // As a shell or a CI runner may leave one open: a high fd, not close-on-exec, on a file of our own.
  const daemonCmd = [process.execPath, ...DAEMON_NODE_FLAGS, join(repo, 'bin', 'cunikd.js'), '--root', join(dir, 'root'), '--host', socket, '--accel', 'tcg', '--default-network', 'user'];
  const daemon = spawn('bash', ['-c', 'exec 251>>"$0"; exec "$@"', marker, ...daemonCmd], { stdio: 'ignore' });
  const client = new CunikClient(socket);
  const holders = (pid: number): string[] => readdirSync(`/proc/${pid}/fd`).filter((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === marker);
  try {
    await waitFor('daemon up', () => client.ping().then(() => true, () => undefined), 30_000);
    assert.deepEqual(holders(daemon.pid!), ['251'], 'the daemon inherited fd 251');
    await client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
    const { id } = await client.createInstance({ image: 'hello', args: ['idle'] });
    await client.startInstance(id);
    const qemu = (await client.inspectInstance(id)).pid!;
    for (const pid of [qemu, proc(qemu)!.ppid]) assert.deepEqual(holders(pid), [], `${proc(pid)?.comm} holds the daemon's inherited descriptor`);
    await client.removeInstance(id, true);
  } finally {
    client.close();
    killInstances(join(dir, 'root'));
    daemon.kill('SIGKILL');
  }
});
