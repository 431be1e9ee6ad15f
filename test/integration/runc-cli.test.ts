// cunik-runc driven directly as containerd's shim would (no containerd): errors as runc's JSON log
// lines with level error, -t refused at once, a whole lifecycle's states (created with the vCPUs
// stopped: no output before start), and ids it did not create handed to the real runc.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bootFile } from '../../src/images/boot-file.js';
import { helloKernel, repo, waitFor } from '../helpers/daemon.js';
import { uruncJson } from '../helpers/foreign-images.js';

const RUNC = join(repo, 'bin', 'cunik-runc');
let dir: string;
let root: string;
let log: string;

function bundle(name: string, config: Record<string, unknown>): string {
  const b = join(dir, name);
  mkdirSync(join(b, 'rootfs', 'cunik'), { recursive: true });
  copyFileSync(helloKernel, join(b, 'rootfs', 'cunik', 'kernel'));
  writeFileSync(join(b, 'rootfs', 'cunik', 'boot.json'), bootFile({ 'org.cunik.family': 'generic', 'org.cunik.boot': 'multiboot', 'org.cunik.memory': '64' }, [], { kernel: true }));
  writeFileSync(join(b, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', root: { path: 'rootfs' }, ...config }));
  return b;
}

const runc = (args: string[], timeout = 60_000, env: Record<string, string> = {}) =>
  spawnSync(RUNC, ['--root', root, '--log', log, '--log-format', 'json', ...args], { encoding: 'utf8', timeout, env: { ...process.env, CUNIK_ACCEL: 'tcg', ...env } });
const lastLog = (): { level: string; msg: string } => JSON.parse(readFileSync(log, 'utf8').trim().split('\n').at(-1)!) as { level: string; msg: string };
const state = (id: string): { status: string; pid: number } => JSON.parse(runc(['state', id]).stdout) as { status: string; pid: number };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cunik-runc-'));
  root = join(dir, 'root');
  log = join(dir, 'log.json');
});

after(() => {
  // Whatever a failed test left: its shim and QEMU (their command lines name this root).
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${root}/cunik/`)) process.kill(Number(p), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

test('errors are runc\'s JSON log lines with level error; -t is refused at once; nothing is left', () => {
  const b = bundle('b1', { process: { args: ['exit=5'], env: [], terminal: false } });
  const t0 = Date.now();
  const tty = runc(['create', '--bundle', b, '--pid-file', join(dir, 'p1'), '--console-socket', join(dir, 'console.sock'), 'tty1']);
  assert.notEqual(tty.status, 0);
  assert.ok(Date.now() - t0 < 20_000, 'no hang');
  assert.equal(lastLog().level, 'error');
  assert.match(lastLog().msg, /^a terminal \(-t, --console-socket\) is not supported for unikernels: run without -t/);
  assert.equal(existsSync(join(root, 'cunik', 'tty1')), false);
  assert.equal(existsSync(join(dir, 'p1')), false);

  const bad = bundle('b3', {});
  writeFileSync(join(bad, 'config.json'), '{');
  const r = runc(['create', '--bundle', bad, '--pid-file', join(dir, 'p3'), 'bad1']);
  assert.equal(r.status, 125);
  assert.deepEqual([lastLog().level, /^config\.json of bundle .* is not valid JSON/.test(lastLog().msg)], ['error', true]);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line on stderr');

  const b4 = bundle('b4', { process: { args: [], env: [], terminal: false } });
  assert.equal(runc(['create', '--bundle', b4, '--pid-file', join(dir, 'p4'), '../x']).status, 125);
  assert.match(lastLog().msg, /invalid container id/);
});

test('a whole lifecycle: created (vCPUs stopped), running, stopped; delete removes its state', { timeout: 120_000 }, async () => {
  const b = bundle('b2', { process: { args: ['exit=5'], env: [], terminal: false } });
  const pidFile = join(dir, 'p2');
  // The task's stdio is the console: a pipe here, as containerd's shim gives.
  const create = spawn(RUNC, ['--root', root, '--log', log, '--log-format', 'json', 'create', '--bundle', b, '--pid-file', pidFile, 'life1'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CUNIK_ACCEL: 'tcg' } });
  let out = '';
  create.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => create.once('exit', r));
  assert.equal(code, 0, readFileSync(log, 'utf8'));
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.deepEqual(state('life1'), { ...state('life1'), status: 'created', pid });
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /cunik-shim\0--exit-codes\0[0-9a-f]{642}\0/);
  assert.equal(out, '', 'no guest output before start');
  assert.equal(runc(['delete', 'life1']).status, 1, 'a live task is not deleted without --force');
  assert.match(lastLog().msg, /cannot delete container life1 that is not stopped: created/);
  const ps = JSON.parse(runc(['ps', '--format', 'json', 'life1']).stdout) as number[];
  assert.equal(ps.length, 2);
  assert.equal(runc(['start', 'life1']).status, 0);
  await waitFor('the guest\'s exit line on the task\'s stdout', () => out.includes('exit: 5') || undefined, 60_000);
  await waitFor('the task stopped', () => state('life1').status === 'stopped' || undefined, 30_000);
  assert.match(runc(['kill', 'life1', 'SIGTERM']).stderr, /container not running/);
  assert.equal(runc(['start', 'life1']).status, 1);
  assert.equal(runc(['delete', 'life1']).status, 0);
  assert.equal(existsSync(join(root, 'cunik', 'life1')), false);
});

test('state, start, kill and delete are answered by the native front, as the Node runtime answers them', { timeout: 120_000 }, async () => {
  const b = bundle('b5', { process: { args: ['idle'], env: [], terminal: false } });
  const create = spawn(RUNC, ['--root', root, '--log', log, '--log-format', 'json', 'create', '--bundle', b, '--pid-file', join(dir, 'p5'), 'front1'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CUNIK_ACCEL: 'tcg' } });
  let out = '';
  create.stdout.on('data', (d: Buffer) => (out += d.toString()));
  assert.equal(await new Promise((r) => create.once('exit', r)), 0, readFileSync(log, 'utf8'));
  const NODE = { CUNIK_RUNC_NODE: '1' };
  const TRACE = { CUNIK_RUNC_TRACE: '1' };
  /** The same command through the front and through Node: stdout, status, and the error line it logged. */
  const both = (args: string[]): void => {
    const front = runc(args, 60_000, TRACE);
    const frontLog = readFileSync(log, 'utf8').trim().split('\n').slice(-2).map((l) => JSON.parse(l) as { level: string; msg: string });
    assert.match(frontLog.at(-1)!.msg, new RegExp(`^${args[0]} front1: \\d+ ms in main \\(native\\)$`), `${args.join(' ')} ran without node`);
    const node = runc(args, 60_000, NODE);
    assert.deepEqual([front.status, front.stdout], [node.status, node.stdout], args.join(' '));
    if (node.status !== 0) {
      assert.equal(frontLog[0]!.level, 'error');
      assert.equal(frontLog[0]!.msg, lastLog().msg, args.join(' '));
    }
  };
  both(['state', 'front1']);
  assert.equal(state('front1').status, 'created');
  both(['delete', 'front1']);
  assert.match(lastLog().msg, /cannot delete container front1 that is not stopped: created/);
  assert.equal(runc(['start', 'front1'], 60_000, TRACE).status, 0);
  assert.match(lastLog().msg, /^start front1: \d+ ms in main \(native\)$/);
  await waitFor('the guest running (its ready line)', () => out.includes('ready') || undefined, 60_000);
  both(['state', 'front1']);
  assert.equal(state('front1').status, 'running');
  both(['start', 'front1']);
  assert.match(lastLog().msg, /cannot start a container that is running/);
  assert.equal(runc(['kill', 'front1', '9'], 60_000, TRACE).status, 0);
  assert.match(lastLog().msg, /^kill front1: \d+ ms in main \(native\)$/);
  await waitFor('the task stopped', () => state('front1').status === 'stopped' || undefined, 30_000);
  both(['state', 'front1']);
  assert.equal(state('front1').pid, 0);
  both(['kill', 'front1', 'TERM']);
  assert.match(lastLog().msg, /container not running/);
  assert.equal(runc(['delete', 'front1'], 60_000, TRACE).status, 0);
  assert.match(lastLog().msg, /^delete front1: \d+ ms in main \(native\)$/);
  assert.equal(existsSync(join(root, 'cunik', 'front1')), false);
});

test('ids cunik-runc did not create go to the real runc, which answers', () => {
  const r = runc(['state', 'nosuch1']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + readFileSync(log, 'utf8'), /container does not exist/);
});

test('KraftKit\'s and urunc\'s layouts in a bundle boot through the unikraft family', { timeout: 120_000 }, async () => {
  const unikraft = join(repo, 'build', 'kernels', 'unikraft.elf');
  const layouts: [string, (rootfs: string) => void, string[]][] = [
    ['kraft1', (r) => {
      mkdirSync(join(r, 'unikraft', 'bin'), { recursive: true });
      copyFileSync(unikraft, join(r, 'unikraft', 'bin', 'kernel'));
    }, ['kraftarg']],
    ['urunc1', (r) => {
      mkdirSync(join(r, 'unikernel'), { recursive: true });
      copyFileSync(unikraft, join(r, 'unikernel', 'kernel'));
      writeFileSync(join(r, 'urunc.json'), uruncJson({ unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/unikernel/kernel', cmdline: 'app' }));
    }, ['app', 'uruncarg']],
  ];
  for (const [id, lay, args] of layouts) {
    const b = join(dir, id);
    mkdirSync(join(b, 'rootfs'), { recursive: true });
    lay(join(b, 'rootfs'));
    writeFileSync(join(b, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args, env: [], terminal: false } }));
    const p = spawn(RUNC, ['--root', root, '--log', log, '--log-format', 'json', 'create', '--bundle', b, '--pid-file', join(dir, `${id}.pid`), id], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CUNIK_ACCEL: 'tcg' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    assert.equal(await new Promise((r) => p.once('exit', r)), 0, readFileSync(log, 'utf8').split('\n').slice(-3).join('\n'));
    assert.equal(runc(['start', id]).status, 0);
    await waitFor(`${id}'s guest output`, () => /Hello from the Cunik test kernel/.test(out) && /cmdline: /.test(out) || undefined, 60_000);
    const arg = args.at(-1)!;
    await waitFor(`${id}'s argument`, () => out.includes(arg) || undefined, 30_000);
    assert.ok(!out.includes('app uruncarg'), 'urunc\'s argv[0] is not passed as an argument');
    assert.equal(runc(['delete', '--force', id]).status, 0);
    assert.equal(existsSync(join(root, 'cunik', id)), false);
  }
});

test('a VM that fails to start in a network namespace: one error line, and no tap, qdisc or state is left', { timeout: 120_000 }, () => {
  const ns = `crc-${process.pid}`;
  const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
  ip('netns', 'add', ns);
  try {
    ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1');
    ip('-n', ns, 'addr', 'add', '10.219.9.5/24', 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    const b = bundle('broken', { process: { args: [], env: [], terminal: false }, linux: { namespaces: [{ type: 'network', path: `/var/run/netns/${ns}` }] } });
    writeFileSync(join(b, 'rootfs', 'cunik', 'kernel'), Buffer.alloc(8192, 0x5a)); // not a kernel QEMU can load
    const r = runc(['create', '--bundle', b, '--pid-file', join(dir, 'pb'), 'broken1']);
    assert.equal(r.status, 1);
    assert.equal(lastLog().level, 'error');
    assert.match(lastLog().msg, /^the VM failed to start: QEMU exited with status 1/);
    assert.deepEqual((JSON.parse(ip('-n', ns, '-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith('cunik')), []);
    assert.doesNotMatch(execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'show', 'dev', 'eth0'], { encoding: 'utf8' }), /ingress/);
    assert.equal(existsSync(join(root, 'cunik', 'broken1')), false);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});
