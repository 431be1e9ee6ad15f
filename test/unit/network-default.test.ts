// Which network an instance gets when its request names none (cunikd --default-network), and
// --network-alias's checks: the instances service over in-memory records (no VM is started).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { familyAdapter } from '../../src/families/index.js';
import type { ImageBootInfo } from '../../src/families/types.js';
import { networkAliases } from '../../src/instances/boot-config.js';
import type { InstanceRecord } from '../../src/instances/record.js';
import { InstanceService } from '../../src/instances/service.js';
import type { InstanceStore } from '../../src/instances/store.js';
import { noVmDriver } from '../helpers/no-vm-driver.js';

const boots: Record<string, ImageBootInfo> = {
  web: { family: 'linux', boot: 'linux', kernelPath: '/k', args: [], env: [], memoryMiB: 128, cpus: 1, labels: {} },
  gen: { family: 'generic', boot: 'multiboot', kernelPath: '/k', args: [], env: [], memoryMiB: 32, cpus: 1, labels: {} },
  inc: { family: 'includeos', boot: 'multiboot', kernelPath: '/k', args: [], env: [], memoryMiB: 64, cpus: 1, labels: {} },
};

function service(defaultNetwork: 'user' | 'bridge', withNetworks = true): InstanceService {
  const store = { create: async (r: InstanceRecord) => r, remove: async () => undefined, save: async () => undefined } as unknown as InstanceStore;
  const known = new Set(['bridge', 'mynet']);
  return new InstanceService({
    store,
    images: { inspect: (ref) => ({ id: `sha256:${ref}` }), bootInfo: (id) => boots[id.slice(7)]!, bootArtifacts: () => ({}) },
    driver: noVmDriver,
    family: familyAdapter,
    accelerator: async () => ({ accel: 'tcg', reason: 'test' }),
    host: () => ({}),
    defaultNetwork,
    ...(withNetworks && {
      networks: {
        check: (name: string) => {
          if (!known.has(name)) throw new Error(`no such network: ${name}`);
        },
        isInternal: () => false,
        attachAll: () => Promise.reject(new Error('not here')),
        detach: async () => undefined,
      },
    }),
  });
}

test('a root daemon (default bridge) puts an instance that names no network on bridge (with -p too: bridge networks publish ports), unless it cannot join one', async () => {
  const svc = service('bridge');
  const net = async (req: Parameters<InstanceService['create']>[0]): Promise<string | undefined> => (await svc.create(req)).config.network;
  assert.equal(await net({ image: 'web' }), 'bridge');
  // -p too: bridge networks publish ports (DNAT, docs/networking.md).
  assert.equal(await net({ image: 'web', ports: [{ guestPort: 80 }] }), 'bridge');
  // No NIC (a generic kernel), or a family that takes no static address (IncludeOS): as before.
  assert.equal(await net({ image: 'gen' }), 'user');
  assert.equal(await net({ image: 'inc' }), 'user');
  // Named: as named.
  assert.equal(await net({ image: 'web', network: 'user' }), 'user');
  assert.equal(await net({ image: 'web', network: 'mynet' }), 'mynet');
  await assert.rejects(svc.create({ image: 'gen', network: 'bridge' }), /the generic family attaches no network device for this image: it cannot join network bridge/);
});

test('--default-network user (and a daemon without bridge networks) keeps user mode', async () => {
  assert.equal((await service('user').create({ image: 'web' })).config.network, 'user');
  assert.equal((await service('bridge', false).create({ image: 'web' })).config.network, 'user');
});

test('--network-alias: user-defined networks only, DNS names, each once', async () => {
  const svc = service('bridge');
  assert.deepEqual((await svc.create({ image: 'web', network: 'mynet', aliases: ['db', 'DB', 'cache.local', 'db'] })).config.aliases, ['db', 'cache.local']);
  assert.equal((await svc.create({ image: 'web', network: 'mynet' })).config.aliases, undefined);
  for (const [req, why] of [
    [{ image: 'web', aliases: ['db'] }, /^network-scoped aliases are only supported for user-defined networks \(not --network bridge\)$/],
    [{ image: 'web', network: 'user', aliases: ['db'] }, /^network-scoped aliases are only supported for user-defined networks \(not --network user\)$/],
    [{ image: 'web', network: 'none', aliases: ['db'] }, /\(not --network none\)$/],
    [{ image: 'web', network: 'mynet', aliases: ['two words'] }, /^invalid network alias "two words": give a DNS name/],
    [{ image: 'web', network: 'mynet', aliases: ['-dash'] }, /^invalid network alias "-dash"/],
    [{ image: 'web', network: 'mynet', aliases: ['dot.'] }, /^invalid network alias "dot\."/],
    [{ image: 'web', network: 'mynet', aliases: ['x'.repeat(64)] }, /^invalid network alias/],
  ] as [Parameters<InstanceService['create']>[0], RegExp][]) {
    await assert.rejects(svc.create(req), (e: Error & { field?: string }) => why.test(e.message) && e.field === 'aliases', JSON.stringify(req));
  }
  assert.deepEqual(networkAliases(['web-2', 'a_b'], 'mynet'), ['web-2', 'a_b']);
});
