// argv[0] of a multiboot guest is the image's name, never a host path: QEMU's multiboot loader puts
// the -kernel argument first on the kernel's command line, so the driver runs QEMU (confined, as
// the VM user, under cunik-shim) in the instance's boot folder and gives it the kernel by a bare
// name linked there. The test kernels print the command line as the loader gave it (`rawcmdline`).
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, kernels, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const run = (args: string[]) => cli(args, { socket: d.socket });
const rawLine = (out: string): string | undefined => /^raw cmdline: (.*)$/m.exec(out)?.[1];

before(async () => {
  d = await startDaemon();
  for (const [family, file, name] of [['generic', helloKernel, 'greeter'], ['unikraft', join(kernels, 'unikraft.elf'), 'registry.example/team/ukapp:1.0']] as const) {
    const r = await run(['import', '--family', family, file, name]);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await d?.stop();
});

test('generic (multiboot): the guest reads the image\'s name first on its command line, no host path', { timeout: 120_000 }, async () => {
  const r = await run(['run', '--name', 'g', '--network', 'none', 'greeter', 'rawcmdline', 'exit=4']);
  assert.equal(r.code, 4, r.stderr);
  assert.equal(rawLine(r.stdout), 'greeter rawcmdline exit=4');
  assert.match(r.stdout, /^cmdline: rawcmdline exit=4$/m, 'the kernel still drops the name from its args');
  assert.ok(!r.stdout.includes(d.root), 'nothing of the daemon\'s root reaches the guest');

  // QEMU was given the bare name; the instance's boot folder links it to the instance's kernel.
  const info = await d.client.inspectInstance('g');
  const argv = info.vm.argv as string[];
  assert.equal(argv[argv.indexOf('-kernel') + 1], 'greeter');
  assert.equal(readlinkSync(join(info.paths.dir, 'boot', 'greeter')), join(info.paths.dir, 'kernel'));

  // A second start finds the link in place.
  assert.equal((await run(['start', 'g'])).code, 0);
  const waited = await run(['wait', 'g']);
  assert.equal(waited.stdout.trim(), '4', waited.stderr);
  const lines = (await run(['logs', 'g'])).stdout.split('\n').filter((l) => l.startsWith('raw cmdline: '));
  assert.deepEqual(lines, ['raw cmdline: greeter rawcmdline exit=4', 'raw cmdline: greeter rawcmdline exit=4']);
  assert.equal((await run(['rm', 'g'])).code, 0);
});

test('unikraft: argv[0] is the last part of the image\'s repository, the args follow', { timeout: 120_000 }, async () => {
  const c = await run(['run', '-d', '--name', 'uk', 'registry.example/team/ukapp:1.0', 'idle', 'rawcmdline']);
  assert.equal(c.code, 0, c.stderr);
  const line = await waitFor('the raw command line', async () => rawLine((await run(['logs', 'uk'])).stdout), 60_000);
  assert.equal(line, 'ukapp idle rawcmdline');
  assert.equal((await run(['rm', '-f', 'uk'])).code, 0);
});
