// --read-only (native readOnly, Docker's HostConfig.ReadonlyRootfs): only the linux family has a
// root file system to keep from writes (its root disk: families/linux.ts); every other family
// refuses it in one line rather than ignoring it. The instances service over in-memory records.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { familyAdapter } from '../../src/families/index.js';
import type { ImageBootInfo } from '../../src/families/types.js';
import type { InstanceRecord } from '../../src/instances/record.js';
import { InstanceService } from '../../src/instances/service.js';
import type { InstanceStore } from '../../src/instances/store.js';
import { noVmDriver } from '../helpers/no-vm-driver.js';

const boots: Record<string, ImageBootInfo> = {
  disk: { family: 'linux', boot: 'linux', kernelPath: '/k', initrdPath: '/i', diskPath: '/d', args: [], env: [], memoryMiB: 128, cpus: 1, labels: { 'org.cunik.rootfs': 'disk' } },
  gen: { family: 'generic', boot: 'multiboot', kernelPath: '/k', args: [], env: [], memoryMiB: 32, cpus: 1, labels: {} },
  uk: { family: 'unikraft', boot: 'linux', kernelPath: '/k', args: [], env: [], memoryMiB: 32, cpus: 1, labels: {} },
};

const svc = new InstanceService({
  store: { create: async (r: InstanceRecord) => r, remove: async () => undefined, save: async () => undefined } as unknown as InstanceStore,
  images: { inspect: (ref) => ({ id: `sha256:${ref}` }), bootInfo: (id) => boots[id.slice(7)]!, bootArtifacts: () => ({}) },
  driver: noVmDriver,
  family: familyAdapter,
  accelerator: async () => ({ accel: 'tcg', reason: 'test' }),
  host: () => ({}),
  defaultNetwork: 'user',
});

test('--read-only: a linux image with a root disk takes it; other families refuse it in one line', async () => {
  assert.equal((await svc.create({ image: 'disk', readOnly: true })).config.readOnly, true);
  for (const [image, family] of [['gen', 'generic'], ['uk', 'unikraft']]) {
    await assert.rejects(svc.create({ image: image!, readOnly: true }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, new RegExp(`^--read-only is not supported by the ${family} family: only a linux image with a root disk`));
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
    assert.equal((await svc.create({ image: image! })).config.readOnly, undefined);
  }
});
