// The accelerator probe's decision and process handling, with stand-in QEMU binaries (shell scripts)
// that behave like QEMU does in each case. The real probe under QEMU is in test/integration.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { accelModeFromEnv, chooseAccelerator, probeAccelerator, probeArgv } from '../../src/vmm/qemu/accel.js';
import { MICROVM_MACHINE } from '../../src/vmm/qemu/argv.js';
import { alive } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-accel-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fake qemu: writes its pid to <dir>/<name>.pid, then runs body. */
function fakeQemu(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\necho $$ > ${join(dir, name)}.pid\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

function gone(pidFile: string): boolean {
  return !alive(Number(readFileSync(pidFile, 'utf8').trim()));
}

// /dev/null opens read-write like a working /dev/kvm would.
const kvmDevice = '/dev/null';

test('probe: no kvm device → tcg, "no /dev/..."', async () => {
  const r = await probeAccelerator({ probeKernel: '/nonexistent', kvmDevice: join(dir, 'kvm-missing') });
  assert.equal(r.accel, 'tcg');
  assert.equal(r.reason, `no ${join(dir, 'kvm-missing')}`);
});

test('probe: unopenable kvm device → tcg with the errno', async () => {
  const r = await probeAccelerator({ probeKernel: '/nonexistent', kvmDevice: dir }); // a directory: EISDIR
  assert.equal(r.accel, 'tcg');
  assert.match(r.reason, /^cannot open .*: EISDIR$/);
});

test('probe: prints "probe: ok" and exits 1 → kvm', async () => {
  const bin = fakeQemu('ok', 'echo "probe: ok"; exit 1');
  const r = await probeAccelerator({ binary: bin, probeKernel: '/k/probe.elf', kvmDevice });
  assert.equal(r.accel, 'kvm');
});

test('probe: exits 1 without the marker → tcg', async () => {
  const bin = fakeQemu('nomarker', 'echo "something else"; exit 1');
  const r = await probeAccelerator({ binary: bin, probeKernel: '/k/probe.elf', kvmDevice });
  assert.equal(r.accel, 'tcg');
  assert.match(r.reason, /exited with status 1 without printing "probe: ok"/);
});

test('probe: QEMU error → tcg with its first stderr line', async () => {
  const bin = fakeQemu('err', 'echo "qemu-system-x86_64: could not load kernel \'/k/probe.elf\'" >&2; exit 1');
  const r = await probeAccelerator({ binary: bin, probeKernel: '/k/probe.elf', kvmDevice });
  assert.equal(r.accel, 'tcg');
  assert.match(r.reason, /could not load kernel/);
});

test('probe: KVM internal error (QEMU paused forever) → tcg at once, process killed and reaped', async () => {
  const bin = fakeQemu('emufail', 'printf "KVM internal error. Suberror: 1\\nemulation failure\\nRAX=0\\n" >&2; exec sleep 30');
  const t0 = Date.now();
  const r = await probeAccelerator({ binary: bin, probeKernel: '/k/probe.elf', kvmDevice, timeoutMs: 3000 });
  assert.ok(Date.now() - t0 < 1500, 'does not wait for the timeout');
  assert.equal(r.accel, 'tcg');
  assert.equal(r.reason, 'kvm probe failed: KVM internal error / emulation failure');
  assert.ok(gone(join(dir, 'emufail.pid')));
});

test('probe: hang → tcg after timeoutMs, process killed and reaped', async () => {
  const bin = fakeQemu('hang', 'exec sleep 30');
  const t0 = Date.now();
  const r = await probeAccelerator({ binary: bin, probeKernel: '/k/probe.elf', kvmDevice, timeoutMs: 200 });
  const took = Date.now() - t0;
  assert.ok(took >= 190 && took < 1500, `took ${took} ms`);
  assert.equal(r.accel, 'tcg');
  assert.equal(r.reason, 'kvm probe timed out after 200 ms');
  assert.ok(gone(join(dir, 'hang.pid')));
});

test('probe: missing binary → tcg with the reason', async () => {
  const r = await probeAccelerator({ binary: join(dir, 'no-such-qemu'), probeKernel: '/k/probe.elf', kvmDevice });
  assert.equal(r.accel, 'tcg');
  assert.match(r.reason, /could not start .*no-such-qemu: ENOENT/);
});

test('probe: argv is the trimmed microvm under kvm with serial on stdio', () => {
  const argv = probeArgv('qemu-system-x86_64', '/k/probe.elf');
  assert.deepEqual(argv.slice(0, 7), ['qemu-system-x86_64', '-M', MICROVM_MACHINE, '-accel', 'kvm', '-cpu', 'host']);
  assert.ok(argv.join(' ').includes('-kernel /k/probe.elf'));
  assert.ok(argv.join(' ').includes('-device isa-debug-exit,iobase=0xf4,iosize=0x04'));
  assert.ok(argv.join(' ').includes('-chardev stdio,id=con0,signal=off -serial chardev:con0'));
});

test('CUNIK_ACCEL: kvm|tcg|auto, default auto, anything else is INVALID_ARGUMENT', async () => {
  assert.equal(accelModeFromEnv({}), 'auto');
  assert.equal(accelModeFromEnv({ CUNIK_ACCEL: 'auto' }), 'auto');
  assert.equal(accelModeFromEnv({ CUNIK_ACCEL: 'KVM' }), 'kvm');
  assert.equal(accelModeFromEnv({ CUNIK_ACCEL: 'tcg' }), 'tcg');
  assert.throws(() => accelModeFromEnv({ CUNIK_ACCEL: 'hvf' }), (e: unknown) => e instanceof CunikError && e.code === 'INVALID_ARGUMENT');
  const never = join(dir, 'never-run');
  assert.deepEqual(await chooseAccelerator('kvm', { binary: never, probeKernel: '/x' }), { accel: 'kvm', reason: 'forced (CUNIK_ACCEL=kvm)' });
  assert.deepEqual(await chooseAccelerator('tcg', { binary: never, probeKernel: '/x' }), { accel: 'tcg', reason: 'forced (CUNIK_ACCEL=tcg)' });
  assert.equal(existsSync(`${never}.pid`), false);
  assert.equal((await chooseAccelerator('auto', { probeKernel: '/x', kvmDevice: join(dir, 'nokvm') })).reason, `no ${join(dir, 'nokvm')}`);
});
