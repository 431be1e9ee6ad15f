// The instances service with a real volume store (no VM is started): create attaches named,
// bound and anonymous volumes and records them; a create that fails leaves no volume it made;
// volume users count every instance; rm with volumes removes only the anonymous ones.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { familyAdapter } from '../../src/families/index.js';
import type { ImageBootInfo } from '../../src/families/types.js';
import type { InstanceRecord } from '../../src/instances/record.js';
import { InstanceService } from '../../src/instances/service.js';
import type { InstanceStore } from '../../src/instances/store.js';
import { VolumeStore } from '../../src/volumes/store.js';
import { noVmDriver } from '../helpers/no-vm-driver.js';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'cunik-instvol-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const boots: Record<string, ImageBootInfo> = {
  app: { family: 'linux', boot: 'linux', kernelPath: '/k', args: [], env: [], memoryMiB: 128, cpus: 1, labels: { 'org.cunik.volumes': '["/anon"]' } },
  gen: { family: 'generic', boot: 'multiboot', kernelPath: '/k', args: [], env: [], memoryMiB: 32, cpus: 1, labels: {} },
};

/** A service over in-memory records; `failStore` makes storing the record fail. */
async function service(name: string, failStore = false): Promise<{ svc: InstanceService; volumes: VolumeStore }> {
  const volumes = new VolumeStore(join(root, name));
  await volumes.init();
  const store = {
    create: async (r: InstanceRecord) => {
      if (failStore) throw new Error('disk full');
      return r;
    },
    remove: async () => undefined,
    save: async () => undefined,
  } as unknown as InstanceStore;
  const svc = new InstanceService({
    store,
    images: { inspect: (ref) => ({ id: `sha256:${ref}` }), bootInfo: (id) => boots[id.slice(7)]!, bootArtifacts: () => ({}) },
    driver: noVmDriver,
    family: familyAdapter,
    accelerator: async () => ({ accel: 'tcg', reason: 'test' }),
    host: () => ({}),
    volumes,
  });
  return { svc, volumes };
}

test('create attaches named, bound and anonymous volumes, records them, and counts its users', async () => {
  const { svc, volumes } = await service('a');
  const host = join(root, 'hostdir');
  mkdirSync(host);
  const r = await svc.create({ image: 'app', name: 'one', network: 'none', mounts: [{ type: 'volume', source: 'data', target: '/data' }, { type: 'bind', source: host, target: '/host', readonly: true }] });
  const mounts = r.config.mounts!;
  assert.deepEqual(mounts.map((m) => [m.type, m.name ?? null, m.target, m.kind, m.readonly, m.anonymous ?? false]), [
    ['volume', 'data', '/data', 'share', false, false],
    ['bind', null, '/host', 'share', true, false],
    ['volume', mounts[2]!.name, '/anon', 'share', false, true],
  ]);
  const data = await volumes.get('data');
  assert.equal(mounts[0]!.source, data.mountpoint);
  assert.equal(mounts[1]!.source, host);
  assert.equal((await volumes.get(mounts[2]!.name!)).anonymous, true);
  assert.deepEqual(svc.volumeUsers('data'), [r.id]);
  const two = await svc.create({ image: 'app', name: 'two', network: 'none', mounts: [{ type: 'volume', source: 'data', target: '/data' }] });
  assert.deepEqual(svc.volumeUsers('data').sort(), [r.id, two.id].sort());
  await assert.rejects(volumes.remove('data', (n) => svc.volumeUsers(n)), /in use/);

  const anon = mounts[2]!.name!;
  await svc.remove('one', false, true);
  assert.equal(await volumes.find(anon), undefined, 'rm -v: the anonymous volume goes');
  assert.ok(await volumes.find('data'), 'a named volume stays');
  const twoAnon = two.config.mounts!.find((m) => m.anonymous)!.name!;
  await svc.remove('two', false, false);
  assert.ok(await volumes.find(twoAnon), 'rm without -v keeps it');
  assert.deepEqual(svc.volumeUsers('data'), []);
});

test('a create that fails leaves none of the volumes it made, and reserves nothing', async () => {
  const { svc, volumes } = await service('b', true);
  await volumes.create({ name: 'existing' });
  await assert.rejects(svc.create({ image: 'app', network: 'none', mounts: [{ type: 'volume', source: 'fresh', target: '/f' }, { type: 'volume', source: 'existing', target: '/e' }] }), /disk full/);
  assert.deepEqual((await volumes.list()).map((v) => v.name), ['existing'], 'fresh and the anonymous /anon volume are gone; existing stays');
  assert.deepEqual(svc.volumeUsers('existing'), []);
  const { svc: gen, volumes: genVolumes } = await service('c');
  await assert.rejects(gen.create({ image: 'gen', mounts: [{ type: 'volume', source: 'fresh', target: '/f' }] }), /generic: volumes are not supported/);
  assert.deepEqual(await genVolumes.list(), []);
  assert.deepEqual(gen.list(true), []);
  const none = await gen.create({ image: 'gen' });
  assert.equal(none.config.mounts, undefined, 'no mounts asked, none declared: nothing recorded');
});
