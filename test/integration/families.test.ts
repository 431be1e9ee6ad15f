// The families' upstream behaviours, imitated by the project's own test kernels (build/kernels,
// docs/test-kernels.md) through a real daemon, the real CLI and real QEMU:
// - solo5.elf / solo5-net-blk.elf abort as Solo5 does on a device their manifest does not declare,
//   or on a declared one missing, and print their exit code (QEMU's status is 83 whatever it is);
// - halt.elf ends as Rumprun does: exit lines, "halted", and QEMU left running;
// - an OSv-style qcow2 disk (made here by qemu-img) imports alone, and with a PVH "loader".
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, kernels, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
let work: string;
const run = (args: string[]) => cli(args, { socket: d.socket });

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'cunik-families-'));
  d = await startDaemon();
  for (const [family, file, name] of [['solo5', 'solo5.elf', 's5'], ['solo5', 'solo5-net-blk.elf', 's5nb'], ['rumprun', 'halt.elf', 'rr']]) {
    const r = await run(['import', '--family', family!, join(kernels, file!), name!]);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await d?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

test('solo5 without declared devices: no NIC despite the default network, so no abort; the printed code is the exit code', { timeout: 120_000 }, async () => {
  const r = await run(['run', '--rm', 's5', 'exit=3']);
  assert.doesNotMatch(r.stdout, /not in manifest|Aborting/, 'Solo5 aborts on a NIC its manifest does not declare');
  assert.match(r.stdout, /Command line is: 'exit=3'\nSolo5: solo5_exit\(3\) called/);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  const aborted = await run(['run', '--name', 's5abort', 's5', 'abort']);
  assert.equal(aborted.code, 255, 'solo5_abort() is SOLO5_EXIT_ABORT, not 0');
  const info = await d.client.inspectInstance('s5abort');
  assert.equal(info.exitCode, 255);
  assert.equal((info as { exitSource?: string }).exitSource, 'console');
  await run(['rm', 's5abort']);
});

test('solo5 declaring a net and a block device: both attached in manifest order; the block device gets its declared volume', { timeout: 120_000 }, async () => {
  const r = await run(['run', '--rm', 's5nb', 'exit=5']);
  assert.match(r.stdout, /PCI:00:02: virtio-net device, base=[1-9]\d*\nSolo5: PCI:00:03: virtio-block device, base=[1-9]\d*\n/, 'slot order = manifest order, I/O BARs assigned (SeaBIOS)');
  assert.doesNotMatch(r.stdout, /Aborting|ABORT/);
  assert.equal(r.code, 5, r.stdout + r.stderr);
  const none = await run(['run', '--rm', '--network', 'none', 's5nb']);
  assert.equal(none.code, 125);
  assert.match(none.stderr, /solo5: this unikernel declares network device "service": it needs a network/);
});

test('cunik build of a solo5 unikernel records its manifest as cunik import does', { timeout: 120_000 }, async () => {
  const ctx = join(work, 'solo5-ctx');
  mkdirSync(ctx);
  copyFileSync(join(kernels, 'solo5-net-blk.elf'), join(ctx, 'app.elf'));
  writeFileSync(join(ctx, 'Cunikfile'), 'family: solo5\nkernel: app.elf\nvolumes: [/extra]\n');
  const b = await run(['build', '-q', '-t', 's5built', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  const img = await d.client.inspectImage('s5built');
  assert.equal(img.labels['org.cunik.solo5.devices'], 'net:service,block:storage');
  assert.equal(img.labels['org.cunik.volumes'], '["/extra","/storage"]');
});

test('a rumprun guest that halts after its exit line is seen as exited with its code within a second; argv[0] is the image name', { timeout: 120_000 }, async () => {
  const t0 = Date.now();
  const r = await run(['run', '--rm', 'rr', 'exit=4']);
  assert.match(r.stdout, /"cmdline": "rr exit=4"/);
  assert.match(r.stdout, /argv0: rr\n/);
  assert.match(r.stdout, /=== ERROR: _exit\(4\) called ===\nhalted\n/);
  assert.equal(r.code, 4, r.stdout + r.stderr);
  assert.ok(Date.now() - t0 < 60_000, 'run --rm returned');

  const c = await run(['run', '-d', '--name', 'rr2', 'rr']);
  assert.equal(c.code, 0, c.stderr);
  const info = await waitFor('rr2 to exit', async () => {
    const i = await d.client.inspectInstance('rr2');
    return i.state === 'exited' ? i : undefined;
  }, 60_000);
  const logs = await run(['logs', '-t', 'rr2']);
  const halted = /^(\S+) halted$/m.exec(logs.stdout);
  assert.ok(halted, logs.stdout);
  const lag = Date.parse(info.finishedAt!) - Date.parse(halted[1]!);
  assert.ok(lag < 1000, `exited ${lag} ms after the guest printed "halted"`);
  assert.equal(info.exitCode, 0);
  await run(['rm', 'rr2']);
});

/** A raw disk whose boot sector triple-faults at once (QEMU then exits 0 with -no-reboot), the command line at 512. */
function bootDisk(cmdline: string): Buffer {
  const disk = Buffer.alloc(1024 * 1024);
  // cli; lidt [0x7c10] (limit 0); int3 -> triple fault
  Buffer.from([0xfa, 0x0f, 0x01, 0x1e, 0x10, 0x7c, 0xcc, 0xf4]).copy(disk);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  disk.write(`${cmdline}\0`, 512);
  return disk;
}

test('osv: a qcow2 disk (qemu-img made) imports and boots from SeaBIOS; with a PVH kernel it boots that with the disk\'s command line', { timeout: 180_000 }, async () => {
  const raw = join(work, 'usr.raw');
  writeFileSync(raw, bootDisk('idle from-the-disk'));
  const usr = join(work, 'usr.img');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, usr]);

  const alone = await run(['import', '--family', 'osv', usr, 'osvdisk']);
  assert.equal(alone.code, 0, alone.stderr);
  assert.match(alone.stdout, /\(osv, disk\)/);
  const booted = await run(['run', '--rm', 'osvdisk']);
  assert.equal(booted.code, 0, booted.stderr); // the sector ends the VM; OSv's code is unknown anyway

  const loaderOnly = await run(['import', '--family', 'osv', join(kernels, 'hello-pvh.elf'), 'x']);
  assert.equal(loaderOnly.code, 125);
  assert.match(loaderOnly.stderr, /a osv image needs its disk image: cunik import --family osv --disk DISK KERNEL NAME/);

  const fast = await run(['import', '--family', 'osv', '--disk', usr, join(kernels, 'hello-pvh.elf'), 'osvfast']);
  assert.equal(fast.code, 0, fast.stderr);
  assert.match(fast.stdout, /\(osv, pvh\)/);
  const started = await run(['run', '-d', '--name', 'of', 'osvfast']);
  assert.equal(started.code, 0, started.stderr);
  let seen = '';
  await waitFor('the kernel to print its command line', async () => {
    seen = (await run(['logs', 'of'])).stdout;
    // The loader's options (the default network's --ip...) first, then the command stored in the disk.
    return /cmdline: --ip=eth0,\S+ (?:--\S+ )*idle from-the-disk\nboot: pvh\n/.test(seen) ? true : undefined;
  }, 60_000).catch((err: Error) => assert.fail(`${err.message}; the console: ${JSON.stringify(seen)}`));
  const rm = await run(['rm', '-f', 'of']);
  assert.equal(rm.code, 0, rm.stderr);
});
