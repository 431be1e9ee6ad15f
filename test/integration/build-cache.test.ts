// The build service in-process (no daemon): step caching, stable image ids, what a changed file
// rebuilds, --no-cache, a prebuilt unikernel (generic family), and a dynamically linked app's initramfs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { BuildService } from '../../src/build/service.js';
import { ImageStore } from '../../src/images/store.js';
import { helloKernel, repo } from '../helpers/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-bcache-'));
const root = join(dir, 'root');
let images: ImageStore;
let svc: BuildService;
const linuxReady = existsSync('/boot') && readdirSync('/boot').some((n) => n.startsWith('vmlinuz-')) && existsSync('/bin/busybox')
  && existsSync(join(repo, 'build', 'linux', 'init'));

before(() => {
  images = new ImageStore(root, { knownFamilies: ['generic', 'linux'] });
  svc = new BuildService({ root, images });
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Tar a directory with Debian's tar and build it; returns the progress lines, the id and the time. */
async function build(ctx: string, tag: string, opts: { noCache?: boolean; file?: string } = {}): Promise<{ out: string; id: string; ms: number }> {
  const tarFile = join(dir, `ctx-${Date.now()}.tar`);
  const r = spawnSync('tar', ['-cf', tarFile, '-C', ctx, '.']);
  assert.equal(r.status, 0, String(r.stderr));
  const lines: string[] = [];
  const t0 = Date.now();
  const job = await svc.prepare(createReadStream(tarFile), { tag, ...opts });
  const res = await job.run((l) => lines.push(l));
  rmSync(tarFile);
  return { out: lines.join('\n'), id: res.id, ms: Date.now() - t0 };
}

test('a prebuilt unikernel (generic family): detected boot protocol, default args, cached', async () => {
  const ctx = mkdtempSync(join(dir, 'gen-'));
  copyFileSync(helloKernel, join(ctx, 'hello.elf'));
  writeFileSync(join(ctx, 'Cunikfile'), 'family: generic\nkernel: hello.elf\nargs: [exit=3]\nmemory: 32\nlabels: { team: core }\n');
  const first = await build(ctx, 'hello-built');
  assert.match(first.out, /^Step 1\/2 : kernel hello\.elf/m);
  const img = images.inspect('hello-built');
  assert.equal(img.boot, 'multiboot');
  assert.deepEqual(img.args, ['exit=3']);
  assert.equal(img.memoryMiB, 32);
  assert.equal(img.labels['team'], 'core');
  assert.deepEqual(readFileSync(images.bootArtifacts(img.id).kernel!), readFileSync(helloKernel));
  const again = await build(ctx, 'hello-built:2');
  assert.equal(again.id, first.id);
  assert.match(again.out, /---> Using cache/);
});

test('linux: warm rebuild reuses everything; a changed file rebuilds only the initramfs; --no-cache', async () => {
  assert.ok(linuxReady, 'needs linux-image-amd64, busybox-static (setup.sh installs them) and build/linux/init (npm run build)');
  const ctx = mkdtempSync(join(dir, 'lin-'));
  writeFileSync(join(ctx, 'Cunikfile'), 'family: linux\napp: /bin/busybox\nfiles: [{ src: page.html, dst: /www/index.html }]\nargs: [httpd, -f, -h, /www]\nports: [80]\nvolumes: [/data]\n');
  writeFileSync(join(ctx, 'page.html'), '<h1>one</h1>\n');
  const cold = await build(ctx, 'web');
  assert.doesNotMatch(cold.out, /Using cache/);
  const warm = await build(ctx, 'web');
  assert.equal(warm.id, cold.id, 'same inputs, same image id');
  assert.equal(warm.out.match(/---> Using cache/g)?.length, 2, warm.out);

  writeFileSync(join(ctx, 'page.html'), '<h1>two</h1>\n');
  const changed = await build(ctx, 'web');
  assert.notEqual(changed.id, cold.id);
  assert.match(changed.out, /Step 1\/4 : kernel .*\n ---> Using cache/);
  assert.doesNotMatch(changed.out, /Step 3\/4 .*\n ---> Using cache/);
  const img = images.inspect('web');
  assert.equal(img.labels['org.cunik.ports'], '["80/tcp"]');
  assert.equal(img.labels['org.cunik.volumes'], '["/data"]');
  assert.equal(img.labels['org.cunik.init'], 'cunik', 'the linux adapter then leaves the image env to the init');
  const initrd = gunzipSync(readFileSync(images.bootArtifacts(img.id).initrd!));
  assert.ok(initrd.includes('<h1>two</h1>'));
  assert.ok(initrd.includes('kernel/fs/9p/9p.ko'), 'volumes declared: 9p and ext4 modules packed');

  const fresh = await build(ctx, 'web', { noCache: true });
  assert.doesNotMatch(fresh.out, /Using cache/);
  assert.equal(fresh.id, changed.id, 'every step is deterministic');
  console.log(`# linux build: cold ${cold.ms} ms, warm ${warm.ms} ms, one file changed ${changed.ms} ms, --no-cache ${fresh.ms} ms`);
});

test('linux: a dynamically linked app brings its loader and libraries', async () => {
  assert.ok(linuxReady, 'needs linux-image-amd64, busybox-static (setup.sh installs them) and build/linux/init (npm run build)');
  const ctx = mkdtempSync(join(dir, 'dyn-'));
  writeFileSync(join(ctx, 'build.yaml'), 'family: linux\napp: /bin/ls\nargs: [-l, /]\n');
  const b = await build(ctx, 'ls', { file: 'build.yaml' });
  assert.match(b.out, /files from the loader and libraries: .*ld-linux-x86-64\.so\.2.*libc\.so\.6/);
  const initrd = gunzipSync(readFileSync(images.bootArtifacts(images.resolveId('ls')).initrd!));
  for (const f of ['lib64/ld-linux-x86-64.so.2', 'x86_64-linux-gnu/libc.so.6', 'bin/ls', '.cunik/entry']) assert.ok(initrd.includes(f), f);
});
