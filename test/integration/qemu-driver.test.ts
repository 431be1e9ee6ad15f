// The QEMU driver against real QEMU under TCG, with the project's test kernels (build/kernels).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { adopt, QemuDriver, stopGracefully, type QemuVmHandle } from '../../src/vmm/qemu/driver.js';
import type { BootSpec, VmExit, VmHandle, VmPaths } from '../../src/vmm/types.js';
import { alive, waitUntil, within } from '../helpers/wait.js';

/** The repository root: up from this file to the folder holding scripts/build-kernels.sh, else cwd. */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, 'scripts', 'build-kernels.sh'))) return d;
    const up = dirname(d);
    if (up === d) return process.cwd();
    d = up;
  }
}
const root = repoRoot();
const kernel = (name: string): string => join(root, 'build', 'kernels', name);

const tmp = mkdtempSync(join(tmpdir(), 'cunik-qemu-drv-'));
const handles: VmHandle[] = [];
const driver = new QemuDriver();
// The driver unrefs QEMU (a daemon must not be kept alive by its VMs); keep the loop alive while
// tests await exits.
const keepAlive = setInterval(() => undefined, 60_000);

before(() => {
  if (!existsSync(kernel('hello.elf'))) {
    const r = spawnSync('bash', [join(root, 'scripts', 'build-kernels.sh')], { stdio: 'inherit' });
    assert.equal(r.status, 0, 'build-kernels.sh failed');
  }
});

after(async () => {
  clearInterval(keepAlive);
  for (const h of handles) h.kill('SIGKILL');
  await Promise.all(handles.map((h) => h.exited));
  const left = spawnSync('pgrep', ['-f', tmp], { encoding: 'utf8' }).stdout.trim();
  rmSync(tmp, { recursive: true, force: true });
  assert.equal(left, '', 'no qemu process may remain');
});

let n = 0;
function vmPaths(): VmPaths {
  const dir = join(tmp, `vm${n++}`);
  mkdirSync(dir);
  return {
    dir,
    pidfile: join(dir, 'qemu.pid'),
    qmpSocket: join(dir, 'qmp.sock'),
    consoleLog: join(dir, 'console.log'),
    consoleSocket: join(dir, 'console.sock'),
    vmmLog: join(dir, 'qemu.log'),
  };
}

const spec = (cmdline: string, over: Partial<BootSpec> = {}): BootSpec => ({
  machine: 'microvm',
  kernel: kernel('hello.elf'),
  cmdline,
  disks: [],
  memoryMiB: 32,
  cpus: 1,
  powerdown: 'none',
  debugExit: true,
  ...over,
});

async function start(s: BootSpec, p: VmPaths): Promise<QemuVmHandle> {
  const h = await driver.start(s, p, 'tcg');
  handles.push(h);
  return h;
}

const read = (p: string): string => (existsSync(p) ? readFileSync(p, 'utf8') : '');

test('hello exit=3: QEMU exits with status 7, console.log holds the banner (no client attached)', async () => {
  const p = vmPaths();
  const t0 = performance.now();
  const h = await start(spec('exit=3'), p);
  const spawned = performance.now() - t0;
  assert.ok(h.pid > 0);
  assert.equal(h.adopted, false);
  const exit = await within(h.exited, 10_000, 'exit');
  assert.deepEqual(exit, { status: 7, signal: null } satisfies VmExit);
  const log = read(p.consoleLog);
  assert.match(log, /Hello from the Cunik test kernel/);
  assert.match(log, /cmdline: exit=3/);
  // Not waiting for QMP or the guest (which take hundreds of ms more under TCG); the bound leaves
  // room for a host loaded by the other test files running beside this one.
  assert.ok(spawned < 250, `start() resolved after ${spawned.toFixed(1)} ms`);
});

test('start: own session (survives the daemon), pidfile written, stale files replaced', async () => {
  const p = vmPaths();
  for (const f of [p.qmpSocket, p.consoleSocket, p.pidfile]) writeFileSync(f, 'stale');
  writeFileSync(p.consoleLog, 'previous run\n');
  const h = await start(spec('idle'), p);
  const stat = readFileSync(`/proc/${h.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  assert.equal(Number(fields[3]), h.pid, 'session id = pid (setsid)');
  await waitUntil(() => read(p.consoleLog).includes('ready'), 10_000, 'ready');
  assert.match(read(p.consoleLog), /^previous run\n/, 'logappend keeps earlier output');
  await waitUntil(() => read(p.pidfile).trim() === String(h.pid), 5000, 'pidfile');
  const st = await (await h.qmp()).execute<{ status: string }>('query-status');
  assert.equal(st.status, 'running');
  h.kill('SIGKILL');
  await h.exited;
});

test('idle: stopGracefully falls back to SIGTERM when the guest ignores powerdown', async () => {
  const p = vmPaths();
  const h = await start(spec('idle'), p);
  await waitUntil(() => read(p.consoleLog).includes('ready'), 10_000, 'ready');
  const t0 = Date.now();
  const exit = await within(stopGracefully(h, 500), 5000, 'stopGracefully');
  const took = Date.now() - t0;
  // QEMU ends with status 0 on SIGTERM, saying so on stderr: the VM was ended by SIGTERM.
  assert.deepEqual([exit.status, exit.signal], [null, 'SIGTERM']);
  assert.match(exit.stderr ?? '', /^qemu-system-x86_64: terminating on signal 15 from pid \d+/);
  assert.equal(exit.vmmError, undefined);
  assert.ok(took >= 450 && took < 2000, `took ${took} ms`);
  assert.equal(alive(h.pid), false);
  await assert.rejects(h.powerdown(), (e: unknown) => e instanceof CunikError && e.code === 'CONFLICT');
  h.kill('SIGKILL'); // no-op once exited
});

test('stopGracefully on a VM that already exited returns at once', async () => {
  const h = await start(spec('exit=0'), vmPaths());
  await h.exited;
  const t0 = Date.now();
  assert.deepEqual(await stopGracefully(h, 5000), { status: 1, signal: null });
  assert.ok(Date.now() - t0 < 200);
});

test('kill(SIGKILL) → exited with signal SIGKILL', async () => {
  const p = vmPaths();
  const h = await start(spec('idle'), p);
  await waitUntil(() => read(p.consoleLog).includes('ready'), 10_000, 'ready');
  h.kill('SIGKILL');
  assert.deepEqual(await within(h.exited, 5000, 'exit'), { status: null, signal: 'SIGKILL' });
});

test('powerdown reaches QEMU over QMP (the guest may ignore it)', async () => {
  const p = vmPaths();
  const h = await start(spec('idle'), p);
  await h.powerdown(); // right after spawn: QMP is connected with retries
  const qmp = await h.qmp();
  assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'running');
  h.kill('SIGTERM');
  const exit = await h.exited;
  assert.deepEqual([exit.status, exit.signal], [null, 'SIGTERM']);
  // The process exit and the QMP socket's close are separate events: the close may come a moment later.
  await within(new Promise((r) => (qmp.isClosed ? r(undefined) : qmp.once('close', r))), 2000, 'QMP closed');
  assert.equal(qmp.isClosed, true);
});

test('adopt: recognises the VM by its QMP socket, detects its exit, can kill it', async () => {
  const p = vmPaths();
  const h = await start(spec('idle'), p);
  await waitUntil(() => read(p.consoleLog).includes('ready'), 10_000, 'ready');

  assert.equal(adopt(h.pid, { ...p, qmpSocket: join(p.dir, 'other.sock') }), undefined, 'wrong instance');
  assert.equal(adopt(process.pid, p), undefined, 'not a qemu of ours');
  assert.equal(adopt(0, p), undefined);
  assert.equal(adopt(2 ** 22 + 12345, p), undefined, 'no such pid');

  const a = driver.adopt(h.pid, p);
  assert.ok(a);
  assert.equal(a.pid, h.pid);
  assert.equal(a.adopted, true);
  const qmp = await a.qmp();
  assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'running');
  assert.equal(await a.qmp(), qmp, 'one shared QMP connection');

  // Exit caused from outside is noticed (QMP socket closes), status unknown for adopted processes.
  process.kill(h.pid, 'SIGTERM');
  assert.deepEqual(await within(a.exited, 5000, 'adopted exit'), { status: null, signal: null });
  await h.exited; // (our own child here: a zombie until Node reaps it)
  assert.equal(alive(h.pid), false);
  a.kill('SIGKILL'); // no-op: must not signal a reused pid
});

test('adopt: stopGracefully and kill work through an adopted handle', async () => {
  const p1 = vmPaths();
  const h1 = await start(spec('idle'), p1);
  await waitUntil(() => read(p1.consoleLog).includes('ready'), 10_000, 'ready');
  const a1 = adopt(h1.pid, p1)!;
  assert.deepEqual(await within(stopGracefully(a1, 300), 5000, 'stop'), { status: null, signal: null });
  assert.equal((await h1.exited).signal, 'SIGTERM', 'SIGTERM was sent');

  const p2 = vmPaths();
  const h2 = await start(spec('idle'), p2);
  await waitUntil(() => read(p2.consoleLog).includes('ready'), 10_000, 'ready');
  const a2 = adopt(h2.pid, p2)!;
  a2.kill('SIGKILL');
  await within(a2.exited, 5000, 'adopted exit');
  assert.deepEqual(await h2.exited, { status: null, signal: 'SIGKILL' });
});

test('console socket: input reaches the guest, output goes to the socket and the log', async () => {
  const p = vmPaths();
  const h = await start(spec('echo'), p);
  await waitUntil(() => read(p.consoleLog).includes('echo: ready'), 10_000, 'echo: ready');
  await waitUntil(() => existsSync(p.consoleSocket), 5000, 'console socket');
  const sock = createConnection({ path: p.consoleSocket });
  let got = '';
  sock.on('data', (b) => (got += b.toString()));
  await new Promise((r) => sock.once('connect', r));
  sock.write('hi there\n');
  await waitUntil(() => got.includes('echo: hi there'), 5000, 'echo over the socket');
  await waitUntil(() => read(p.consoleLog).includes('echo: hi there'), 5000, 'echo in the log');
  sock.write('exit=5\n');
  assert.deepEqual(await within(h.exited, 5000, 'exit'), { status: 11, signal: null });
  sock.destroy();
});

test('pc machine with qboot and hello-pvh on microvm boot too', async () => {
  const p = vmPaths();
  const h = await start(spec('exit=2', { machine: 'pc' }), p);
  assert.ok(driver.argv(spec('exit=2', { machine: 'pc' }), p, 'tcg').includes('-bios') === existsSync('/usr/share/qemu/qboot.rom'));
  assert.deepEqual(await within(h.exited, 10_000, 'exit'), { status: 5, signal: null });
  assert.match(read(p.consoleLog), /Hello from the Cunik test kernel/);

  const q = vmPaths();
  const h2 = await start(spec('exit=4', { kernel: kernel('hello-pvh.elf') }), q);
  assert.deepEqual(await within(h2.exited, 10_000, 'exit'), { status: 9, signal: null });
  assert.match(read(q.consoleLog), /boot: pvh/);
});


test('SeaBIOS writes nothing to the console: the kernel banner is its first byte (no terminal reset, no BIOS banner)', async () => {
  // The same on a disk-less -kernel boot and on a disk boot (SeaBIOS on pc whatever the firmware choice).
  const p = vmPaths();
  const h = await start(spec('exit=1', { machine: 'pc', firmware: 'seabios' }), p);
  assert.deepEqual(await within(h.exited, 20_000, 'exit'), { status: 3, signal: null });
  const log = read(p.consoleLog);
  assert.ok(log.startsWith('Hello from the Cunik test kernel\n'), `console.log starts ${JSON.stringify(log.slice(0, 60))}`);
  assert.ok(!log.includes('\x1b'), 'no escape code in the console');
});

test('QEMU errors land in vmmLog; a kernel QEMU cannot open is a VMM failure, not the guest exiting 0', async () => {
  const p = vmPaths();
  const h = await start(spec('', { kernel: join(tmp, 'no-such-kernel.elf') }), p);
  const exit = await within(h.exited, 5000, 'exit');
  assert.deepEqual([exit.status, exit.signal], [1, null]);
  assert.match(exit.vmmError ?? '', /^qemu: could not open kernel file '.*no-such-kernel\.elf'/);
  assert.equal(exit.stderr, exit.vmmError);
  assert.match(read(p.vmmLog!), /^cunik: VM started .*\nqemu: could not open kernel file .*no-such-kernel\.elf/);
});

test('a missing QEMU binary rejects start with a clear CunikError', async () => {
  const d = new QemuDriver({ binary: join(tmp, 'no-such-qemu') });
  await assert.rejects(d.start(spec('exit=0'), vmPaths(), 'tcg'), (e: unknown) => {
    assert.ok(e instanceof CunikError);
    assert.match(e.message, /QEMU binary not found: .*no-such-qemu/);
    return true;
  });
});

test('after the tests no qemu of ours is left (pgrep)', () => {
  // (the after() hook asserts it again once every handle is reaped)
  const out = spawnSync('pgrep', ['-f', `${tmp}/vm`], { encoding: 'utf8' }).stdout;
  const pids = out.split('\n').filter(Boolean).map(Number);
  const ours = new Set(handles.map((h) => h.pid));
  for (const pid of pids) assert.ok(ours.has(pid), `unexpected process ${pid}`);
  for (const h of handles) if (alive(h.pid)) assert.fail(`pid ${h.pid} still running`);
});

