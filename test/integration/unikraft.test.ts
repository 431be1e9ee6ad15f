// A Unikraft kernel's linked libraries (.uk_libinfo) decide what Cunik passes it, through a real
// daemon, CLI and QEMU: build/kernels/unikraft.elf lists the libraries of Unikraft 0.16.3's
// helloworld (no libuknetdev, no libuklibparam) and prints its command line (after argv[0]).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, kernels, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const run = (args: string[]) => cli(args, { socket: d.socket });

before(async () => {
  d = await startDaemon();
  const r = await run(['import', '--family', 'unikraft', join(kernels, 'unikraft.elf'), 'ukhello']);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await d?.stop();
});

test('unikraft without libuknetdev and libuklibparam: no NIC and no netdev.ip or "--" despite the default network', { timeout: 120_000 }, async () => {
  const img = await d.client.inspectImage('ukhello');
  assert.equal(img.labels['org.cunik.unikraft.libs'], 'libkvmplat,apphelloworld,libnolibc,libukboot,libukdebug,libuklibid');
  assert.equal(img.labels['org.cunik.unikraft.version'], '0.16.3~e453b74a');

  const c = await run(['run', '-d', '--name', 'uk', 'ukhello', 'idle', 'a', 'b']);
  assert.equal(c.code, 0, c.stderr);
  const line = await waitFor('the kernel to print its command line', async () => /^cmdline: .*$/m.exec((await run(['logs', 'uk'])).stdout)?.[0], 60_000);
  assert.equal(line, 'cmdline: idle a b', 'the app gets exactly its args');
  const info = await d.client.inspectInstance('uk');
  assert.ok(!info.vm.argv.some((a: string) => a.includes('virtio-net')), `no NIC: ${info.vm.argv.join(' ')}`);
  assert.equal((await run(['rm', '-f', 'uk'])).code, 0);

  const p = await run(['run', '--rm', '-p', '8080:80', 'ukhello']);
  assert.equal(p.code, 125);
  assert.match(p.stderr, /this Unikraft kernel has no network device library \(libuknetdev\): ports cannot be published/);
  const e = await run(['run', '--rm', '-e', 'A=1', 'ukhello']);
  assert.equal(e.code, 125);
  assert.match(e.stderr, /no library-parameter parser \(libuklibparam\): env cannot be passed/);
});

test('cunik build of a unikraft kernel records its libraries as cunik import does', { timeout: 120_000 }, async () => {
  const ctx = mkdtempSync(join(tmpdir(), 'cunik-ukbuild-'));
  try {
    copyFileSync(join(kernels, 'unikraft.elf'), join(ctx, 'app.elf'));
    writeFileSync(join(ctx, 'Cunikfile'), 'family: unikraft\nkernel: app.elf\n');
    const b = await run(['build', '-q', '-t', 'ukbuilt', ctx]);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const img = await d.client.inspectImage('ukbuilt');
    assert.equal(img.labels['org.cunik.unikraft.libs'], 'libkvmplat,apphelloworld,libnolibc,libukboot,libukdebug,libuklibid');
    assert.equal(img.labels['org.cunik.unikraft.version'], '0.16.3~e453b74a');
    // The last layer holds cunik/boot.json with the same facts as the labels (images/boot-file.ts).
    assert.equal(img.layers.length, 2);
    const blob = join(d.root, 'images', 'blobs', 'sha256', img.layers[1]!.digest.slice(7));
    const out = spawnSync('tar', ['-xOf', blob, 'cunik/boot.json'], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const own = Object.fromEntries(Object.entries(img.labels).filter(([k]) => k.startsWith('org.cunik.')));
    assert.deepEqual(JSON.parse(out.stdout), { version: 1, labels: own, env: [], kernel: 'cunik/kernel' });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
});
