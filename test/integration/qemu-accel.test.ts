// The accelerator probe on this machine: whatever KVM does here, the probe answers within its bound
// and leaves no process behind.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { probeAccelerator } from '../../src/vmm/qemu/accel.js';

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
const builtProbe = join(root, 'build', 'kernels', 'probe.elf');
// A private copy, so pgrep finds this test's probe QEMU and nobody else's.
const tmp = mkdtempSync(join(tmpdir(), 'cunik-qemu-accel-'));
const probeKernel = join(tmp, 'probe.elf');

before(() => {
  if (!existsSync(builtProbe)) {
    const r = spawnSync('bash', [join(root, 'scripts', 'build-kernels.sh')], { stdio: 'inherit' });
    assert.equal(r.status, 0, 'build-kernels.sh failed');
  }
  copyFileSync(builtProbe, probeKernel);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const probes = (): string => spawnSync('pgrep', ['-f', probeKernel], { encoding: 'utf8' }).stdout.trim();

test('accel probe: answers within the bound with a one-line reason, leaves no process', async () => {
  const timeoutMs = 3000;
  const t0 = Date.now();
  const choice = await probeAccelerator({ probeKernel, timeoutMs });
  const took = Date.now() - t0;
  assert.ok(took < timeoutMs + 1000, `took ${took} ms`);
  assert.ok(choice.accel === 'kvm' || choice.accel === 'tcg');
  assert.ok(choice.reason.length > 0 && !choice.reason.includes('\n'), choice.reason);
  assert.equal(probes(), '', 'probe QEMU left behind');
  console.log(`# accel probe: ${choice.accel} (${choice.reason}) in ${took} ms`);
  // This project's development machines have a broken nested KVM: /dev/kvm opens, guests fail.
  // CUNIK_EXPECT_ACCEL lets a machine with a working KVM (or none) state what it expects.
  const expect = process.env['CUNIK_EXPECT_ACCEL'] ?? 'tcg';
  assert.equal(choice.accel, expect, choice.reason);
});

test('accel probe: the timeout path kills and reaps a real QEMU', async () => {
  // A 1 ms bound ends the probe before QEMU can answer, whatever KVM does on this machine.
  const t0 = Date.now();
  const choice = await probeAccelerator({ probeKernel, timeoutMs: 1 });
  assert.ok(Date.now() - t0 < 1500);
  assert.equal(choice.accel, 'tcg');
  assert.match(choice.reason, /^kvm probe timed out after 1 ms$|\/dev\/kvm/); // (or no usable /dev/kvm at all)
  assert.equal(probes(), '', 'probe QEMU left behind');
});
