// cunik-runc under Debian's real containerd and ctr (docs/kubernetes.md): a Cunik image saved with
// `cunik save` and imported with `ctr image import` runs through containerd's stock runc shim
// (--runtime io.containerd.runc.v2 --runc-binary cunik-runc), prints the guest's output and ends
// with the guest's code; a detached task killed and deleted leaves no QEMU, shim or tap; a plain
// container image is handed to the real runc (shown by the log); the VM joins the network
// namespace the test made in CNI's place (a veth whose far end is the "pod network").
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startContainerd, type TestContainerd } from '../helpers/containerd.js';
import { cli, helloKernel, repo, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';
import { LayoutWriter, tarOf } from '../helpers/foreign-images.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';

const RUNC = join(repo, 'bin', 'cunik-runc');
const RUNTIME = ['--runtime', 'io.containerd.runc.v2', '--runc-binary', RUNC];
const ns = `crn-${process.pid}`;
const peer = `crp-${process.pid}`;
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

let dir: string;
let d: TestDaemon;
let c: TestContainerd;
let runcLog: string;

const missing = [
  ...['containerd', 'ctr', 'runc', 'nsenter', 'tc'].filter((b) => spawnSync('which', [b]).status !== 0).map((b) => `no ${b} (setup.sh installs it)`),
  ...linuxGuestMissing(),
].join('; ');

/** Processes whose command line names this test's runc root: cunik-shim and QEMU of its tasks. */
function vmProcesses(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return cmd.includes(`${c.runcRoot}/cunik/`) && !/^[^\0]*\(?zombie/.test(cmd);
    } catch {
      return false;
    }
  }).map(Number);
}
const taps = (): string[] => (JSON.parse(ip('-n', ns, '-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith('cunik'));
const logLines = (): { level: string; msg: string }[] => (existsSync(runcLog) ? readFileSync(runcLog, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: string; msg: string }) : []);

/** A plain (non-unikernel) image: busybox-static, `echo` as its command. */
async function plainImage(out: string): Promise<string> {
  const w = new LayoutWriter(join(dir, 'plain-layout'));
  const layer = await tarOf([{ name: 'bin/', type: 'directory' }, { name: 'bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 }]);
  const m = w.image({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/busybox', 'echo', 'plain container ran'] } }, [{ tar: layer, gzip: true }]);
  return w.finish({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'io.containerd.image.name': 'plain:latest', 'org.opencontainers.image.ref.name': 'latest' }, platform: { architecture: 'amd64', os: 'linux' } }, out);
}

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing}`);
  dir = mkdtempSync(join(tmpdir(), 'cunik-ctrd-'));
  runcLog = join(dir, 'cunik-runc.log');
  d = await startDaemon();
  const run = (args: string[]) => cli(args, { socket: d.socket });
  assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello:latest'])).code, 0);
  const ctx = join(dir, 'web');
  execFileSync('mkdir', ['-p', join(ctx, 'www')]);
  writeFileSync(join(ctx, 'www', 'index.html'), '<h1>served from the pod network</h1>\n');
  writeFileSync(join(ctx, 'Cunikfile'), ['family: linux', 'app: /bin/busybox', 'files:', '  - { src: www/index.html, dst: /www/index.html }', 'args: [httpd, -f, -v, -p, "80", -h, /www]', 'memory: 128M', ''].join('\n'));
  const b = await run(['build', '-q', '-t', 'podweb:latest', ctx]);
  assert.equal(b.code, 0, b.stderr);
  for (const img of ['hello', 'podweb']) {
    const s = await run(['save', '-o', join(dir, `${img}.tar`), `${img}:latest`]);
    assert.equal(s.code, 0, s.stderr);
  }
  await d.stop();
  c = await startContainerd(join(dir, 'containerd'), { CUNIK_RUNC_LOG: runcLog, CUNIK_ACCEL: 'tcg' });
  for (const tar of ['hello.tar', 'podweb.tar', await plainImage(join(dir, 'plain.tar'))]) {
    const r = await c.ctr(['image', 'import', tar.startsWith('/') ? tar : join(dir, tar)]);
    assert.equal(r.code, 0, r.stderr);
  }
  // CNI's part, played by the test: the pod's namespace with eth0, a veth to the "pod network".
  ip('netns', 'add', ns);
  ip('netns', 'add', peer);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'veth0', 'netns', peer);
  ip('-n', ns, 'addr', 'add', '10.219.3.5/24', 'dev', 'eth0');
  ip('-n', ns, 'link', 'set', 'eth0', 'up');
  ip('-n', ns, 'route', 'add', 'default', 'via', '10.219.3.1');
  ip('-n', peer, 'addr', 'add', '10.219.3.1/24', 'dev', 'veth0');
  ip('-n', peer, 'link', 'set', 'veth0', 'up');
});

after(async () => {
  await c?.stop();
  await d?.stop().catch(() => undefined);
  for (const n of [ns, peer]) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('ctr run --rm through cunik-runc prints the guest and returns its exit code', { timeout: 180_000 }, async () => {
  const r = await c.ctr(['run', '--rm', ...RUNTIME, 'hello:latest', 'hello1', 'exit=3']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /Hello from the Cunik test kernel\r?\ncmdline: exit=3\r?\nboot: multiboot/);
  assert.match(r.stdout, /exit: 3/);
  const zero = await c.ctr(['run', '--rm', ...RUNTIME, 'hello:latest', 'hello0', 'exit=0']);
  assert.equal(zero.code, 0, zero.stderr);
  assert.ok(logLines().some((l) => l.level === 'info' && /a generic unikernel, booted as a VM/.test(l.msg)));
  assert.deepEqual(vmProcesses(), []);
});

test('ctr run -d, task kill, task delete: created paused, then running; nothing is left', { timeout: 180_000 }, async () => {
  const r = await c.ctr(['run', '-d', ...RUNTIME, 'hello:latest', 'idle1', 'idle']);
  assert.equal(r.code, 0, r.stderr);
  const tasks = await c.ctr(['task', 'ls']);
  assert.match(tasks.stdout, /idle1 +\d+ +RUNNING/);
  const procs = vmProcesses();
  assert.equal(procs.length, 2, 'cunik-shim and QEMU');
  const ps = await c.ctr(['task', 'ps', 'idle1']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.equal(ps.stdout.trim().split('\n').length, 3, ps.stdout); // header, shim, QEMU
  assert.equal((await c.ctr(['task', 'kill', 'idle1'])).code, 0);
  await waitFor('the task stopped', async () => /idle1 +\d+ +STOPPED/.test((await c.ctr(['task', 'ls'])).stdout) || undefined, 30_000);
  const del = await c.ctr(['task', 'delete', 'idle1']);
  assert.equal(del.code, 0, del.stderr);
  assert.equal((await c.ctr(['container', 'rm', 'idle1'])).code, 0);
  assert.deepEqual(vmProcesses(), []);
  assert.deepEqual(readdirSync(join(c.runcRoot, 'cunik')).filter((n) => n !== 'accel.json'), []);
});

/** Where this machine keeps the memory and cpu controllers: the v2 tree, or v1's per-controller ones. */
const V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
const cgDir = (controller: 'memory' | 'cpu', path: string): string => (V2 ? join('/sys/fs/cgroup', path) : join('/sys/fs/cgroup', controller, path));
const memoryLimitOf = (path: string): number => Number(readFileSync(join(cgDir('memory', path), V2 ? 'memory.max' : 'memory.limit_in_bytes'), 'utf8').trim());
const cpuMaxOf = (path: string): string => (V2 ? readFileSync(join(cgDir('cpu', path), 'cpu.max'), 'utf8').trim() : ['cpu.cfs_quota_us', 'cpu.cfs_period_us'].map((f) => readFileSync(join(cgDir('cpu', path), f), 'utf8').trim()).join(' '));
const procsOf = (path: string): number[] => readFileSync(join(cgDir('memory', path), 'cgroup.procs'), 'utf8').split('\n').filter((l) => l !== '').map(Number).sort((a, b) => a - b);

test('the task\'s cgroup: linux.cgroupsPath holds the shim and QEMU, with the memory limit and CPU quota; delete removes it', { timeout: 180_000 }, async () => {
  const mem = 160 * 1048576;
  const r = await c.ctr(['run', '-d', ...RUNTIME, '--memory-limit', String(mem), '--cpu-quota', '50000', '--cpu-period', '100000', 'hello:latest', 'cg1', 'idle']);
  assert.equal(r.code, 0, r.stderr);
  // ctr's default cgroupsPath is /<namespace>/<id>.
  const path = `${c.namespace}/cg1`;
  const procs = vmProcesses().sort((a, b) => a - b);
  assert.equal(procs.length, 2, 'cunik-shim and QEMU');
  assert.deepEqual(procsOf(path), procs);
  assert.equal(memoryLimitOf(path), mem);
  assert.equal(cpuMaxOf(path), '50000 100000');
  // The guest got the limit less QEMU's allowance (32 MiB): -m 128.
  const qemu = procs.map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')).find((a) => a.includes('-m'))!;
  assert.equal(qemu[qemu.indexOf('-m') + 1], '128');
  // ps answers from the cgroup.
  const ps = await c.ctr(['task', 'ps', 'cg1']);
  assert.deepEqual(ps.stdout.trim().split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).sort((a, b) => a - b), procs);
  assert.equal((await c.ctr(['task', 'kill', '-s', 'SIGKILL', 'cg1'])).code, 0);
  await waitFor('cg1 stopped', async () => /cg1 +\d+ +STOPPED/.test((await c.ctr(['task', 'ls'])).stdout) || undefined, 30_000);
  assert.equal((await c.ctr(['task', 'delete', 'cg1'])).code, 0);
  assert.equal((await c.ctr(['container', 'rm', 'cg1'])).code, 0);
  assert.equal(existsSync(cgDir('memory', path)), false, 'the cgroup is removed');
  assert.equal(existsSync(cgDir('cpu', path)), false);
});

test('--systemd-cgroup: "slice:prefix:name" is the scope\'s directory under the slice\'s; gone after delete', { timeout: 180_000 }, async () => {
  const slice = `cunikt${process.pid}.slice`;
  const r = await c.ctr(['run', '--rm', ...RUNTIME, '--runc-systemd-cgroup', '--cgroup', `${slice}:cri:cg2`, '--memory-limit', String(96 * 1048576), 'hello:latest', 'cg2', 'exit=4']);
  try {
    assert.equal(r.code, 4, r.stderr);
    const created = logLines().find((l) => l.level === 'info' && l.msg.includes(`cgroup ${slice}/cri-cg2.scope`));
    assert.ok(created !== undefined, 'the log names the cgroup');
    assert.equal(existsSync(cgDir('memory', `${slice}/cri-cg2.scope`)), false, 'removed with the task');
  } finally {
    for (const h of V2 ? [''] : readdirSync('/sys/fs/cgroup')) spawnSync('rmdir', [join('/sys/fs/cgroup', h, slice)], { stdio: 'ignore' });
  }
});

test('a plain container image is handed to the real runc, and the log says so', { timeout: 180_000 }, async () => {
  const before = logLines().length;
  const r = await c.ctr(['run', '--rm', ...RUNTIME, 'plain:latest', 'plain1']);
  const handed = logLines().slice(before).filter((l) => /is not a unikernel .*handed to \/usr\/sbin\/runc/.test(l.msg));
  assert.equal(handed.length, 1, JSON.stringify(logLines().slice(before)));
  // runc runs containers on this machine (checked: exit 0 and the container's line).
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /plain container ran/);
});

test('the VM joins the container\'s network namespace: the pod network reaches the guest; delete leaves no tap', { timeout: 300_000 }, async () => {
  const r = await c.ctr(['run', '-d', ...RUNTIME, '--with-ns', `network:/var/run/netns/${ns}`, 'podweb:latest', 'web1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(taps().length, 1);
  const tc = execFileSync('ip', ['netns', 'exec', ns, 'tc', 'filter', 'show', 'dev', 'eth0', 'ingress'], { encoding: 'utf8' });
  assert.match(tc, /mirred \(Egress Redirect to device cunik[0-9a-f]{8}\)/);
  // From the far end of the veth (where the pod network is), the guest answers on the pod's address.
  const got = await waitFor('the guest serving on 10.219.3.5:80', () => {
    const g = spawnSync('ip', ['netns', 'exec', peer, 'busybox', 'sh', '-c', '(echo GET / HTTP/1.0; echo) | busybox nc -w 3 10.219.3.5 80'], { encoding: 'utf8' });
    return g.stdout.includes('served from the pod network') ? g.stdout : undefined;
  }, 240_000);
  assert.match(got, /200 OK/);
  assert.equal((await c.ctr(['task', 'kill', '-s', 'SIGKILL', 'web1'])).code, 0);
  await waitFor('web1 stopped', async () => /web1 +\d+ +STOPPED/.test((await c.ctr(['task', 'ls'])).stdout) || undefined, 30_000);
  assert.equal((await c.ctr(['task', 'delete', 'web1'])).code, 0);
  assert.equal((await c.ctr(['container', 'rm', 'web1'])).code, 0);
  assert.deepEqual(taps(), []);
  assert.doesNotMatch(execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'show', 'dev', 'eth0'], { encoding: 'utf8' }), /ingress/);
  assert.deepEqual(vmProcesses(), []);
});

test('docs/kubernetes.md: Debian\'s containerd loads its config, the CRI plugin with the cunik runtime', { timeout: 120_000 }, async () => {
  const doc = readFileSync(join(repo, 'docs', 'kubernetes.md'), 'utf8');
  const block = /<!-- containerd-config[^\n]*-->\n```toml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block !== undefined, 'the config block is in the doc');
  const cri = await startContainerd(join(dir, 'containerd-cri'), {}, { extra: block.replace(/^version = 2\n/m, ''), cri: true });
  try {
    await waitFor('the CRI plugin started', () => cri.log().includes('Start cri plugin with config') || undefined, 30_000);
    assert.doesNotMatch(cri.log(), /failed to load plugin io\.containerd\.grpc\.v1\.cri/);
    assert.match(cri.log(), /cunik:\{Type:io\.containerd\.runc\.v2 [^}]*PodAnnotations:\[com\.urunc\.unikernel\.\* org\.cunik\.\*\][^}]*Options:map\[BinaryName:\/usr\/local\/bin\/cunik-runc\]/);
    assert.match(cri.log(), /DefaultRuntimeName:runc/);
  } finally {
    await cri.stop();
  }
});
