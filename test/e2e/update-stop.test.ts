// update (memory and vCPUs at the next start, the restart policy at once) and the stop signal and
// timeout (run --stop-signal/--stop-timeout, the Cunikfile's stop_signal/stop_timeout), through the
// native CLI and the real docker CLI on the compat socket, with real QEMU guests (TCG).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { InstanceDetail } from '../../src/api/schemas.js';
import { cli, helloKernel, kernels, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
let dockerSock: string;
const tmp = mkdtempSync(join(tmpdir(), 'cunik-update-'));
const run = (args: string[]) => cli(args, { socket: d.socket });
const inspect = (ref: string): Promise<InstanceDetail> => d.client.inspectInstance(ref);

function docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DOCKER_HOST: `unix://${dockerSock}`, DOCKER_CONFIG: join(tmp, 'docker') };
  const p = spawn('docker', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

/** The QEMU process's own -m and -smp, from /proc: what the VM really got. */
function qemuSizes(pid: number): { m: string; smp: string } {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return { m: argv[argv.indexOf('-m') + 1]!, smp: argv[argv.indexOf('-smp') + 1]! };
}

/** A stop through the API, timed (no CLI start-up in the figure). */
async function timedStop(ref: string, t?: number): Promise<number> {
  const t0 = Date.now();
  await d.client.stopInstance(ref, t);
  return (Date.now() - t0) / 1000;
}

before(async () => {
  dockerSock = join(tmp, 'docker.sock');
  d = await startDaemon({ args: ['--accel', 'tcg', '--docker-host', `unix://${dockerSock}`] });
  const imported = await run(['import', '--family', 'generic', helloKernel, 'hello']);
  assert.equal(imported.code, 0, imported.stderr);
  // The hello kernel on a pc machine (ACPI, so stop presses its power button, which `idle`
  // ignores), with a stop timeout and a memory minimum of its own.
  const cunikfile = join(tmp, 'Cunikfile');
  writeFileSync(cunikfile, 'family: generic\nkernel: hello.elf\nargs: [idle]\nmemory: 48M\nstop_timeout: 3\nlabels:\n  org.cunik.machine: pc\n  org.cunik.memory.min: 40\n');
  const built = await run(['build', '-t', 'deaf', '-f', cunikfile, kernels]);
  assert.equal(built.code, 0, built.stderr + built.stdout);
});
after(async () => {
  await d?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('update: memory and cpus of a running instance apply at its next start (QEMU -m changes then), the policy at once; bad values change nothing', { timeout: 120_000 }, async () => {
  assert.equal((await run(['run', '-d', '--name', 'upd', '-m', '32m', 'hello', 'idle'])).code, 0);
  const before = await inspect('upd');
  assert.deepEqual(qemuSizes(before.pid!), { m: '32', smp: '1' });
  // Two vCPUs where the host has them (this 2-core host does), else one as before.
  const cpus = Math.min(2, availableParallelism());
  const r = await run(['update', '-m', '48m', '--cpus', String(cpus), '--restart', 'always', 'upd']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'upd\n');
  const what = cpus > 1 ? 'the new memory (48 MiB) and cpus (2) apply at its next start (QEMU cannot change them' : 'the new memory (48 MiB) applies at its next start (QEMU cannot change it';
  assert.equal(r.stderr, `cunik: warning: instance upd is running: ${what} while a generic guest runs)\n`);
  let now = await inspect('upd');
  assert.equal(now.config.memoryMiB, 48);
  assert.equal(now.config.cpus, cpus);
  assert.deepEqual(now.config.restartPolicy, { name: 'always', maximumRetryCount: 0 });
  assert.equal(now.pid, before.pid, 'the VM runs on');
  assert.deepEqual(qemuSizes(now.pid!), { m: '32', smp: '1' }, 'a running VM keeps its memory and vCPUs');

  // The policy applies at once: the VM killed from outside the API comes back by it.
  process.kill(now.pid!, 'SIGKILL');
  now = await waitFor('the policy restart', async () => {
    const i = await inspect('upd');
    return i.state === 'running' && i.restartCount === 1 && i.pid !== before.pid ? i : undefined;
  }, 60_000);
  assert.deepEqual(qemuSizes(now.pid!), { m: '48', smp: String(cpus) }, 'the next start has the new memory and vCPUs');
  assert.equal(now.vm.argv[now.vm.argv.indexOf('-m') + 1], '48');

  // Bad values: one line, 125, the record as it was (daemon restarts read it back as stored).
  const hostCpus = availableParallelism();
  const bad: [string[], RegExp][] = [
    [['--cpus', '0'], /^cunik: .*invalid cpus value: 0/],
    [['--cpus', String(hostCpus + 1)], new RegExp(`^cunik: cpus: ${hostCpus + 1} is more than this host's ${hostCpus} CPU`)],
    [['--restart', 'sometimes'], /^cunik: .*invalid restart policy: sometimes/],
    [['-m', '2m'], /^cunik: .*invalid memory value: 2m \(at least 4 MiB\)/],
    [[], /^cunik: nothing to update: give --memory, --cpus or --restart\n$/],
  ];
  for (const [flags, re] of bad) {
    const b = await run(['update', ...flags, 'upd']);
    assert.equal(b.code, 125, flags.join(' '));
    assert.match(b.stderr, re);
    assert.equal(b.stderr.split('\n').length, 2, b.stderr);
  }
  // Below the image's own minimum (the deaf image's label), stopped instance: refused, unchanged.
  assert.equal((await run(['create', '--name', 'small', 'deaf'])).code, 0);
  const small = await run(['container', 'update', '-m', '32m', 'small']);
  assert.equal(small.code, 125);
  assert.equal(small.stderr, "cunik: memory: 32 MiB is below this image's minimum of 40 MiB: give -m 40m or more\n");
  assert.equal((await inspect('small')).config.memoryMiB, 48);
  // A stopped instance: no warning, its next start has the memory.
  const ok = await run(['container', 'update', '-m', '44m', '--restart', 'on-failure:2', 'small']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, '');
  await d.stop({ keepFiles: true });
  d = await startDaemon({ dir: d.dir, args: ['--accel', 'tcg', '--docker-host', `unix://${dockerSock}`] });
  const stored = await inspect('small');
  assert.equal(stored.config.memoryMiB, 44);
  assert.deepEqual(stored.config.restartPolicy, { name: 'on-failure', maximumRetryCount: 2 });
  const upd = await inspect('upd');
  assert.equal(upd.config.memoryMiB, 48);
  assert.equal(upd.config.restartPolicy.name, 'always');
  assert.equal((await run(['rm', '-f', 'upd', 'small'])).code, 0);
});

test("stop: the image's stop timeout for a guest that ignores its power button, -t over it, SIGKILL at once", { timeout: 180_000 }, async () => {
  assert.equal((await run(['run', '-d', '--name', 'deaf1', 'deaf'])).code, 0);
  let i = await inspect('deaf1');
  assert.equal(i.config.stopSignal, 'SIGTERM');
  assert.equal(i.config.stopTimeout, 3);
  // Powered down, ignored, ended after 3 s (not the default 10): QEMU's SIGTERM, 143.
  const waited = await timedStop('deaf1');
  assert.ok(waited >= 2.9 && waited < 9, `stopped after ${waited} s`);
  i = await inspect('deaf1');
  assert.equal(i.exitCode, 143);
  // stop -t overrides the instance's timeout (0: no power button at all).
  assert.equal((await run(['start', 'deaf1'])).code, 0);
  assert.ok((await timedStop('deaf1', 0)) < 2.9);
  // stop -s: this stop's signal over the instance's; one no guest can be sent is refused first.
  assert.equal((await run(['start', 'deaf1'])).code, 0);
  const badStop = await run(['stop', '-s', 'HUP', 'deaf1']);
  assert.equal(badStop.code, 125);
  assert.match(badStop.stderr, /^cunik: stop signal SIGHUP cannot be delivered to a unikernel guest: .*\n$/);
  assert.equal((await inspect('deaf1')).state, 'running');
  const killed = await run(['stop', '-s', 'KILL', 'deaf1']);
  assert.equal(killed.code, 0, killed.stderr);
  assert.equal((await inspect('deaf1')).exitCode, 137);
  // --stop-signal SIGKILL: the VM is ended at once, as killed (137); --stop-timeout shown as given.
  const k = await run(['run', '-d', '--name', 'deaf2', '--stop-signal', 'kill', '--stop-timeout', '30', 'deaf']);
  assert.equal(k.code, 0, k.stderr);
  i = await inspect('deaf2');
  assert.deepEqual([i.config.stopSignal, i.config.stopTimeout], ['SIGKILL', 30]);
  assert.equal((await run(['inspect', '-f', '{{.Config.StopSignal}} {{.Config.StopTimeout}}', 'deaf2'])).stdout, 'SIGKILL 30\n');
  assert.ok((await timedStop('deaf2')) < 2.9);
  assert.equal((await inspect('deaf2')).exitCode, 137);
  // A signal no guest can be sent: one line, nothing made.
  const bad = await run(['create', '--name', 'deaf3', '--stop-signal', 'SIGHUP', 'deaf']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /^cunik: stop signal SIGHUP cannot be delivered to a unikernel guest: .*\n$/);
  assert.equal((await run(['inspect', 'deaf3'])).code, 125);
  assert.equal((await run(['rm', 'deaf1', 'deaf2'])).code, 0);
});

test('docker run --stop-timeout/--stop-signal and docker update through the compat socket', { timeout: 180_000 }, async () => {
  assert.equal((await docker(['run', '-d', '--name', 'dk1', '--stop-timeout', '4', 'deaf'])).code, 0);
  assert.equal((await docker(['inspect', '-f', '{{.Config.StopSignal}} {{.Config.StopTimeout}}', 'dk1'])).stdout, 'SIGTERM 4\n');
  const t0 = Date.now();
  const stopped = await docker(['stop', 'dk1']);
  const waited = (Date.now() - t0) / 1000;
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.ok(waited >= 3.9 && waited < 9.5, `docker stop took ${waited} s`);
  assert.equal((await docker(['inspect', '-f', '{{.State.ExitCode}}', 'dk1'])).stdout, '143\n');
  // docker restart -s / stop -s: that stop's signal.
  assert.equal((await docker(['start', 'dk1'])).code, 0);
  assert.equal((await docker(['stop', '-s', 'SIGKILL', 'dk1'])).code, 0);
  assert.equal((await docker(['inspect', '-f', '{{.State.ExitCode}}', 'dk1'])).stdout, '137\n');

  assert.equal((await docker(['run', '-d', '--name', 'dk2', '--stop-signal', 'SIGKILL', 'deaf'])).code, 0);
  assert.equal((await docker(['stop', 'dk2'])).code, 0);
  assert.equal((await docker(['inspect', '-f', '{{.Config.StopSignal}} {{.State.ExitCode}}', 'dk2'])).stdout, 'SIGKILL 137\n');

  // docker update of a running container: Warnings on stderr, the record changed.
  assert.equal((await docker(['start', 'dk2'])).code, 0);
  const u = await docker(['update', '-m', '64m', '--restart', 'unless-stopped', 'dk2']);
  assert.equal(u.code, 0, u.stderr);
  // The docker CLI prints the name, then the daemon's Warnings (on stdout, as docker 28 does).
  assert.equal(u.stdout, 'dk2\ninstance dk2 is running: the new memory (64 MiB) applies at its next start (QEMU cannot change it while a generic guest runs)\n');
  assert.equal((await docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}', 'dk2'])).stdout, `${64 * 1024 * 1024} unless-stopped\n`);
  for (const [flags, re] of [[['--cpus', '0.5'], /--cpus 0\.5 is not supported: a VM gets whole virtual CPUs/], [['--memory-swap', '1g', '-m', '64m'], /MemorySwap is not supported/], [['-m', '32m'], /below this image's minimum of 40 MiB/]] as [string[], RegExp][]) {
    const b = await docker(['update', ...flags, 'dk2']);
    assert.notEqual(b.code, 0, flags.join(' '));
    assert.match(b.stderr, re);
  }
  assert.equal((await inspect('dk2')).config.memoryMiB, 64);
  assert.equal((await docker(['rm', '-f', 'dk1', 'dk2'])).code, 0);
});
