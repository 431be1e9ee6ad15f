// Images made by other unikernel tools run with cunik run: archives laid out as KraftKit's
// `kraft pkg` and as urunc's (bunny's) make them, from the project's test kernels
// (test/helpers/foreign-images.ts), through a real daemon, the CLI and QEMU; and hostile ones
// refused in one line with nothing stored.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, kernels, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { kraftkitArchive, uruncArchive, type UruncOptions } from '../helpers/foreign-images.js';

let d: TestDaemon;
let scratch: string;
const run = (args: string[]) => cli(args, { socket: d.socket });
const unikraftElf = readFileSync(join(kernels, 'unikraft.elf'));
const solo5Elf = readFileSync(join(kernels, 'solo5.elf'));
const haltElf = readFileSync(join(kernels, 'halt.elf'));
let n = 0;
const fresh = (): { dir: string; out: string } => {
  const dir = join(scratch, `layout-${++n}`);
  return { dir, out: join(scratch, `archive-${n}.tar`) };
};

before(async () => {
  d = await startDaemon();
  scratch = mkdtempSync(join(tmpdir(), 'cunik-foreign-'));
});
after(async () => {
  await d?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('a KraftKit package (index with qemu/x86_64, kernel at /unikraft/bin/kernel, Cmd) loads and runs as a unikraft image', { timeout: 120_000 }, async () => {
  const { dir, out } = fresh();
  await kraftkitArchive(dir, out, { kernel: unikraftElf, initrd: Buffer.from('070701 not really a cpio'), args: ['exit=3', 'from', 'kraftkit'], ref: 'unikraft.org/hello:0.16' });
  const loaded = await run(['load', '-i', out]);
  assert.equal(loaded.code, 0, loaded.stderr);
  assert.match(loaded.stdout, /Loaded image: unikraft\.org\/hello:0\.16/);
  const img = await d.client.inspectImage('unikraft.org/hello:0.16');
  assert.equal(img.family, 'unikraft');
  assert.equal(img.boot, 'multiboot');
  assert.deepEqual(img.args, ['exit=3', 'from', 'kraftkit']);
  assert.equal(img.labels['org.cunik.image-format'], 'kraftkit');
  assert.equal(img.labels['org.cunik.unikraft.libs'], 'libkvmplat,apphelloworld,libnolibc,libukboot,libukdebug,libuklibid', 'the kernel\'s libraries are read as at import');
  assert.equal(img.architecture, 'x86_64');
  assert.equal(img.os, 'qemu');

  const r = await run(['run', '--rm', 'unikraft.org/hello:0.16']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /^Hello from the Cunik test kernel$/m);
  assert.match(r.stdout, /^cmdline: exit=3 from kraftkit$/m, 'Cmd is the app\'s arguments');
  const over = await run(['run', '--rm', 'unikraft.org/hello:0.16', 'exit=5', 'given']);
  assert.equal(over.code, 5);
  assert.match(over.stdout, /^arg: given$/m);

  // The store keeps the mapped facts: a restarted daemon still knows the image.
  await d.stop({ keepFiles: true });
  d = await startDaemon({ dir: d.dir });
  const again = await run(['run', '--rm', 'unikraft.org/hello:0.16', 'exit=6']);
  assert.equal(again.code, 6, again.stderr);
  const saved = join(scratch, 'resaved.tar');
  assert.equal((await run(['save', '-o', saved, 'unikraft.org/hello:0.16'])).code, 0);
});

const urunc = (over: Partial<UruncOptions> & Pick<UruncOptions, 'via'>): UruncOptions => ({
  kernel: unikraftElf,
  annotations: { unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/unikernel/kernel', cmdline: 'hello exit=4 from urunc' },
  ref: 'harbor.example/urunc/hello:1',
  ...over,
});

for (const via of ['annotations', 'json', 'both'] as const) {
  test(`an urunc image (${via === 'json' ? '/urunc.json only, base64' : via === 'both' ? 'annotations and /urunc.json' : 'labels and manifest annotations'}) runs with its cmdline`, { timeout: 120_000 }, async () => {
    const { dir, out } = fresh();
    const ref = `harbor.example/urunc/hello-${via}:1`;
    await uruncArchive(dir, out, urunc({ via, ref }));
    const loaded = await run(['load', '-i', out]);
    assert.equal(loaded.code, 0, loaded.stderr);
    const img = await d.client.inspectImage(ref);
    assert.equal(img.family, 'unikraft');
    assert.equal(img.labels['org.cunik.image-format'], 'urunc');
    assert.deepEqual(img.args, ['exit=4', 'from', 'urunc'], 'the first word is urunc\'s app name (argv[0])');
    const r = await run(['run', '--rm', ref]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stdout, /^cmdline: exit=4 from urunc$/m);
  });
}

test('urunc: Cmd wins over the cmdline annotation, as urunc takes the process args; mirage maps to solo5, rumprun to rumprun', { timeout: 120_000 }, async () => {
  let { dir, out } = fresh();
  await uruncArchive(dir, out, urunc({ via: 'annotations', ref: 'u/cmd:1', cmd: ['app', 'exit=2'] }));
  assert.equal((await run(['load', '-i', out])).code, 0);
  const c = await run(['run', '--rm', 'u/cmd:1']);
  assert.equal(c.code, 2, c.stderr);

  ({ dir, out } = fresh());
  await uruncArchive(dir, out, urunc({ via: 'json', ref: 'u/mirage:1', kernel: solo5Elf, annotations: { unikernelType: 'mirage', hypervisor: 'qemu', binary: '/unikernel/kernel', cmdline: 'exit=7' } }));
  assert.equal((await run(['load', '-i', out])).code, 0);
  assert.equal((await d.client.inspectImage('u/mirage:1')).family, 'solo5');
  const m = await run(['run', '--rm', 'u/mirage:1']);
  assert.equal(m.code, 7, m.stderr);
  assert.match(m.stdout, /solo5_exit\(7\) called/);

  ({ dir, out } = fresh());
  await uruncArchive(dir, out, urunc({ via: 'annotations', ref: 'u/rump:1', kernel: haltElf, annotations: { unikernelType: 'rumprun', hypervisor: 'qemu', binary: '/unikernel/kernel', cmdline: 'redis exit=9' } }));
  assert.equal((await run(['load', '-i', out])).code, 0);
  const rr = await run(['run', '--rm', 'u/rump:1']);
  assert.equal(rr.code, 9, rr.stderr);
  assert.match(rr.stdout, /_exit\(9\) called/);
});

test('hostile or unsupported foreign images are refused in one line and leave nothing', { timeout: 60_000 }, async () => {
  const cases: [string, Partial<UruncOptions> & Pick<UruncOptions, 'via'>, RegExp][] = [
    ['binary with ..', { via: 'annotations', annotations: { unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/unikernel/../../etc/passwd' } }, /com\.urunc\.unikernel\.binary "\/unikernel\/\.\.\/\.\.\/etc\/passwd" points outside the image's root filesystem \(\.\.\)/],
    ['binary outside the layers', { via: 'json', annotations: { unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/etc/hostname' } }, /a urunc image whose layers hold no kernel at \/etc\/hostname/],
    ['binary a symlink', { via: 'annotations', binaryPath: '/unikernel/real', annotations: { unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/unikernel/kernel' }, extraLayers: [[{ name: 'unikernel/kernel', type: 'symlink', linkname: '/etc/shadow' }]] }, /\/unikernel\/kernel is a symlink \(to "\/etc\/shadow"\): a boot file must be a regular file/],
    ['binary under a symlink', { via: 'annotations', annotations: { unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/boot/kernel' }, extraLayers: [[{ name: 'boot', type: 'symlink', linkname: '/etc' }], [{ name: 'boot/kernel', data: unikraftElf }]] }, /\/boot\/kernel is under the symlink \/boot/],
    ['unknown type', { via: 'annotations', annotations: { unikernelType: 'frobos', hypervisor: 'qemu', binary: '/unikernel/kernel' } }, /urunc unikernel type "frobos" is unknown \(known: unikraft, rumprun, mirage, linux, mewz\)/],
    ['hvt tender', { via: 'annotations', annotations: { unikernelType: 'mirage', hypervisor: 'hvt', binary: '/unikernel/kernel' } }, /a mirage unikernel for Solo5's hvt tender; Cunik boots Solo5's virtio target on QEMU/],
  ];
  for (const [what, o, re] of cases) {
    const { dir, out } = fresh();
    await uruncArchive(dir, out, urunc({ ...o, ref: 'u/bad:1' }));
    const r = await run(['load', '-i', out]);
    assert.equal(r.code, 125, `${what}: ${r.stdout}`);
    assert.match(r.stderr, re, what);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line: ${r.stderr}`);
  }
  const { dir, out } = fresh();
  await kraftkitArchive(dir, out, { kernel: unikraftElf, ref: 'u/fc:1', plat: 'fc' });
  const fc = await run(['load', '-i', out]);
  assert.equal(fc.code, 125);
  assert.match(fc.stderr, /a KraftKit image for the Unikraft platform "fc"; Cunik boots kernels built for qemu \(kvm\)/);
  assert.equal((await run(['images', '-q'])).stdout.includes('u/bad'), false);
  assert.deepEqual(readdirSync(join(d.root, 'images', 'tmp')), [], 'nothing staged is left');
});
