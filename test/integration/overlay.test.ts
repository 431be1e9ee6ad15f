// Images are read-only templates: a disk-booted instance (family nanos, a raw MBR disk made here)
// writes to a per-instance qcow2 overlay backed by the image's disk, never to the image. Real
// QEMU (SeaBIOS boots the sector) and a real daemon. The guest also ends without reporting an exit
// code, so inspect and ps must say the code is unknown.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { NO_REPORT } from '../../src/families/exit.js';
import { cli, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

/**
 * A boot sector (as --32, .code16, linked at 0x7c00): BIOS int 13h writes the sector itself to
 * sector 2 of the boot disk (CHS 0/0/2); on success it triple-faults (lidt with limit 0, int3),
 * which with -no-reboot ends QEMU with status 0 and no report; on failure it writes 1 to
 * isa-debug-exit at 0x501 (exit code 1).
 *   xor ax,ax; mov ds,ax; mov es,ax; mov bx,0x7c00; mov ax,0x0301; mov cx,2; mov dh,0; int 0x13
 *   jc fail; lidt [idt]; int3; fail: mov al,1; mov dx,0x501; out dx,al; hlt; idt: dw 0; dd 0
 */
const BOOT = Buffer.from([
  0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0xbb, 0x00, 0x7c, 0xb8, 0x01, 0x03, 0xb9, 0x02, 0x00, 0xb6, 0x00, 0xcd, 0x13, 0x72,
  0x06, 0x0f, 0x01, 0x1e, 0x22, 0x7c, 0xcc, 0xb0, 0x01, 0xba, 0x01, 0x05, 0xee, 0xf4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

const qemuImg = (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let d: TestDaemon;
let work: string;
let diskFile: string;
const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const run = (args: string[]) => cli(args, { socket: d.socket });

before(async () => {
  assert.ok(qemuImg, 'no qemu-img: apt-get install qemu-utils (setup.sh installs it)');
  work = mkdtempSync(join(tmpdir(), 'cunik-overlay-'));
  diskFile = join(work, 'disk.img');
  const disk = Buffer.alloc(1024 * 1024);
  BOOT.copy(disk);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  writeFileSync(diskFile, disk);
  d = await startDaemon();
  const imported = await run(['import', '--family', 'nanos', diskFile, 'mbrdisk']);
  assert.equal(imported.code, 0, imported.stderr);
});
after(async () => {
  await d?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

test('a disk-booted instance writes to its own qcow2 overlay; the image stays as it was; rm drops it', { timeout: 180_000 }, async () => {
  const original = sha(diskFile);
  const created = await run(['create', '--name', 'ov', 'mbrdisk']);
  assert.equal(created.code, 0, created.stderr);
  const info0 = await d.client.inspectInstance('ov');
  const dir = info0.paths.dir;
  const overlay = join(dir, 'disk.qcow2');
  assert.ok(!existsSync(overlay), 'the overlay is made at the first start, not at create');

  const r = await run(['run', '--name', 'ov2', 'mbrdisk']);
  assert.equal(r.code, 0, r.stderr + r.stdout); // the stand-in code of an unknown exit
  await run(['rm', 'ov2']);

  const started = await run(['start', 'ov']);
  assert.equal(started.code, 0, started.stderr);
  await waitFor('ov to exit', async () => ((await d.client.inspectInstance('ov')).state === 'exited' ? true : undefined), 120_000);

  const info = await d.client.inspectInstance('ov');
  assert.equal(info.exitCode, 0);
  assert.equal(info.exitCodeKnown, false, 'QEMU ended without a report from the guest');
  assert.equal(info.exitNote, NO_REPORT);
  assert.match(info.status, /^Exited \(unknown\) /);
  assert.match((await run(['ps', '-a'])).stdout, /Exited \(unknown\) .* ov\n/);
  const argv = info.vm.argv.join(' ');
  assert.ok(argv.includes(`file=${overlay},format=qcow2,readonly=off`), argv);

  const qinfo = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', overlay], { encoding: 'utf8' })) as Record<string, unknown>;
  assert.equal(qinfo['format'], 'qcow2');
  assert.equal(qinfo['backing-filename'], join(dir, 'disk'));
  assert.equal(qinfo['backing-filename-format'], 'raw');
  assert.equal(qinfo['virtual-size'], 1024 * 1024);

  // The guest's write is in the overlay...
  const flat = join(work, 'flat.raw');
  execFileSync('qemu-img', ['convert', '-U', '-O', 'raw', overlay, flat]);
  const seen = readFileSync(flat);
  assert.deepEqual(seen.subarray(512, 1024), seen.subarray(0, 512), 'sector 2 holds the boot sector the guest wrote');
  // ...and nowhere else: the instance's backing file, the image's unpacked disk and the imported file are unchanged.
  assert.equal(sha(join(dir, 'disk')), original);
  assert.equal(sha(diskFile), original);
  assert.ok(readFileSync(join(dir, 'disk')).subarray(512, 1024).every((b) => b === 0));
  const unpacked = readdirSync(join(d.root), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && statSync(join(e.parentPath, e.name)).size === 1024 * 1024 && !e.parentPath.startsWith(join(d.root, 'instances')));
  assert.ok(unpacked.length > 0, 'the image store holds the disk');
  for (const e of unpacked) assert.equal(sha(join(e.parentPath, e.name)), original, join(e.parentPath, e.name));

  // A second start keeps the overlay (like a container's writable layer) instead of making a new one.
  const ino = statSync(overlay).ino;
  const again = await run(['start', 'ov']);
  assert.equal(again.code, 0, again.stderr);
  await waitFor('ov to exit again', async () => ((await d.client.inspectInstance('ov')).state === 'exited' ? true : undefined), 120_000);
  assert.equal(statSync(overlay).ino, ino);

  assert.equal((await run(['rm', 'ov'])).code, 0);
  assert.ok(!existsSync(dir) && !existsSync(overlay));
  assert.equal(sha(diskFile), original);
});
