import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debugExitCode, generic } from '../../src/families/generic.js';
import type { ImageBootInfo } from '../../src/families/types.js';

const image: ImageBootInfo = {
  family: 'generic',
  boot: 'multiboot',
  kernelPath: '/i/kernel',
  args: ['default'],
  env: ['IMG=1'],
  memoryMiB: 32,
  cpus: 1,
  labels: {},
};

test('boot spec cases', () => {
  const cases: { name: string; image?: Partial<ImageBootInfo>; instance: { args: string[]; env: string[]; memoryMiB?: number; cpus?: number }; expect: Partial<ReturnType<typeof generic.bootSpec>> }[] = [
    { name: 'image defaults', instance: { args: [], env: [] }, expect: { machine: 'microvm', cmdline: 'IMG=1 default', memoryMiB: 32, cpus: 1, debugExit: true, kernel: '/i/kernel' } },
    { name: 'instance args replace defaults', instance: { args: ['exit=3', 'x'], env: [] }, expect: { cmdline: 'IMG=1 exit=3 x' } },
    { name: 'env goes before args', instance: { args: ['idle'], env: ['A=b'] }, expect: { cmdline: 'IMG=1 A=b idle' } },
    { name: 'memory and cpus override', instance: { args: [], env: [], memoryMiB: 128, cpus: 2 }, expect: { memoryMiB: 128, cpus: 2 } },
    { name: 'machine label', image: { labels: { 'org.cunik.machine': 'pc' } }, instance: { args: [], env: [] }, expect: { machine: 'pc' } },
    { name: 'unknown machine label falls back', image: { labels: { 'org.cunik.machine': 'virt' } }, instance: { args: [], env: [] }, expect: { machine: 'microvm' } },
  ];
  for (const c of cases) {
    const spec = generic.bootSpec({ ...image, ...c.image }, c.instance);
    for (const [key, value] of Object.entries(c.expect)) assert.deepEqual(spec[key as keyof typeof spec], value, `${c.name}: ${key}`);
  }
});

test('isa-debug-exit statuses map back to the guest exit code', () => {
  assert.equal(debugExitCode({ status: 1, signal: null }), 0);
  assert.equal(debugExitCode({ status: 7, signal: null }), 3);
  assert.equal(debugExitCode({ status: 255, signal: null }), 127);
  assert.equal(debugExitCode({ status: 0, signal: null }), 0);
  assert.equal(debugExitCode({ status: null, signal: 'SIGKILL' }), 137);
  assert.equal(debugExitCode({ status: null, signal: 'SIGTERM' }), 143);
});

test('volumes are refused: nothing would tell the kernel where to mount them', () => {
  for (const kind of ['block', 'share'] as const) {
    assert.throws(() => generic.bootSpec(image, { args: [], env: [], volumes: [{ kind, source: '/v', target: '/data', readonly: false }] }), /generic: volumes are not supported/);
  }
});
