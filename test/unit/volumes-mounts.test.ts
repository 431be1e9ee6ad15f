// An instance's mounts from the request to the family adapter: planning (image-declared mount
// points get anonymous volumes), resolving against the volume store, the kind a new volume gets
// (asked of the adapter), and bootConfig carrying them so the adapters attach them.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { familyAdapter } from '../../src/families/index.js';
import { bootConfig, instanceConfig, networkSettings } from '../../src/instances/boot-config.js';
import { createVolumes, resolveMounts, volumeKinds, type VolumeAccess } from '../../src/instances/mounts.js';
import { declaredVolumes, instanceVolumes, mountView, planMounts, type MountRecord } from '../../src/volumes/mounts.js';
import type { CreateVolumeOptions, Volume } from '../../src/volumes/types.js';
import { qemuArgv } from '../../src/vmm/qemu/argv.js';
import { image, paths } from './family-helpers.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cunik-mounts-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('planMounts: requests as given, plus an anonymous volume per declared mount point not covered', () => {
  const planned = planMounts(
    [
      { type: 'volume', source: 'data', target: '/data/' },
      { type: 'bind', source: '/srv/www/', target: '/www', readonly: true },
      { type: 'volume', target: '/cache' },
    ],
    ['/data', '/logs'],
  );
  assert.deepEqual(planned, [
    { type: 'volume', name: 'data', target: '/data', readonly: false, anonymous: false },
    { type: 'bind', source: '/srv/www', target: '/www', readonly: true, anonymous: false },
    { type: 'volume', target: '/cache', readonly: false, anonymous: true },
    { type: 'volume', target: '/logs', readonly: false, anonymous: true },
  ]);
  const bad: [Parameters<typeof planMounts>[0], RegExp][] = [
    [[{ type: 'volume', source: 'data', target: 'rel' }], /guest path must be absolute/],
    [[{ type: 'volume', source: 'data', target: '/' }], /cannot mount over the guest's root/],
    [[{ type: 'bind', source: 'rel/dir', target: '/x' }], /host path must be absolute/],
    [[{ type: 'volume', source: 'bad name', target: '/x' }], /invalid volume name/],
    [[{ type: 'volume', source: 'a1', target: '/x' }, { type: 'bind', source: '/h', target: '/x/' }], /duplicate mount point: \/x/],
  ];
  for (const [req, re] of bad) assert.throws(() => planMounts(req), (e) => e instanceof CunikError && e.code === 'INVALID_ARGUMENT' && re.test(e.message));
  assert.deepEqual(declaredVolumes({ 'org.cunik.volumes': '["/a","/b"]' }), ['/a', '/b']);
  assert.deepEqual(declaredVolumes({ 'org.cunik.volumes': 'not json' }), []);
  assert.deepEqual(declaredVolumes({}), []);
});

/** An in-memory stand-in for the volume store. */
function fakeVolumes(existing: Volume[] = []): VolumeAccess & { made: CreateVolumeOptions[]; removed: string[] } {
  const byName = new Map(existing.map((v) => [v.name, v]));
  const made: CreateVolumeOptions[] = [];
  const removed: string[] = [];
  return {
    made,
    removed,
    mountpointOf: (name, driver) => `/root/volumes/${name}/${driver === 'block' ? 'disk.img' : 'data'}`,
    find: async (name) => byName.get(name),
    create: async (opts) => {
      if (opts.name === 'fails') throw new Error('disk full');
      made.push(opts);
      return { name: opts.name!, driver: opts.driver!, mountpoint: '', createdAt: '', labels: {}, anonymous: false };
    },
    remove: async (name) => {
      removed.push(name);
      return byName.get(name)!;
    },
  };
}

test('resolveMounts: existing volumes keep their kind, new ones get the family\'s, binds must be folders', async () => {
  await writeFile(join(tmp, 'file'), 'x');
  const volumes = fakeVolumes([{ name: 'disk', driver: 'block', mountpoint: '/root/volumes/disk/disk.img', createdAt: '', labels: {}, anonymous: false }]);
  const planned = planMounts([
    { type: 'volume', source: 'disk', target: '/disk' },
    { type: 'volume', source: 'new', target: '/new' },
    { type: 'bind', source: tmp, target: '/host', readonly: true },
  ], ['/anon']);
  const { mounts, missing } = await resolveMounts(planned, volumes, ['share', 'block']);
  const anon = mounts[3]!.name!;
  assert.match(anon, /^[0-9a-f]{64}$/);
  assert.deepEqual(mounts, [
    { type: 'volume', name: 'disk', source: '/root/volumes/disk/disk.img', target: '/disk', readonly: false, kind: 'block' },
    { type: 'volume', name: 'new', source: '/root/volumes/new/data', target: '/new', readonly: false, kind: 'share' },
    { type: 'bind', source: tmp, target: '/host', readonly: true, kind: 'share' },
    { type: 'volume', name: anon, source: `/root/volumes/${anon}/data`, target: '/anon', readonly: false, kind: 'share', anonymous: true },
  ]);
  assert.deepEqual(missing, [{ name: 'new', driver: 'share' }, { name: anon, driver: 'share', anonymous: true }]);
  // A block-only family: new volumes are block files; a family with no volumes: declared points are skipped.
  assert.equal((await resolveMounts(planMounts([{ type: 'volume', source: 'nv', target: '/n' }]), volumes, ['block'])).mounts[0]!.kind, 'block');
  assert.deepEqual((await resolveMounts(planMounts([], ['/anon']), volumes, [])).mounts, []);
  await assert.rejects(resolveMounts(planMounts([{ type: 'bind', source: join(tmp, 'nope'), target: '/x' }]), volumes, ['share']), /bind source path does not exist/);
  await assert.rejects(resolveMounts(planMounts([{ type: 'bind', source: join(tmp, 'file'), target: '/x' }]), volumes, ['share']), /is not a directory/);
  assert.deepEqual(mountView(mounts[2]!), { type: 'bind', name: null, source: tmp, destination: '/host', driver: 'share', rw: false });
});

test('createVolumes: a failure removes the volumes it made before rethrowing', async () => {
  const volumes = fakeVolumes();
  await assert.rejects(createVolumes(volumes, [{ name: 'a', driver: 'share' }, { name: 'b', driver: 'block' }, { name: 'fails', driver: 'share' }]), /disk full/);
  assert.deepEqual(volumes.removed, ['a', 'b']);
  assert.deepEqual(await createVolumes(volumes, [{ name: 'c', driver: 'share' }]), ['c']);
});

test('volumeKinds asks the adapter: linux takes both, unikraft shares, solo5 blocks, nanos and generic none', () => {
  const kinds = (family: string, boot = 'multiboot'): string[] =>
    volumeKinds(familyAdapter(family), image(family, { boot, kernelPath: '/k' }), { args: [], env: [] });
  assert.deepEqual(kinds('linux', 'linux'), ['share', 'block']);
  assert.deepEqual(kinds('unikraft'), ['share']);
  assert.deepEqual(kinds('solo5'), ['block']);
  assert.deepEqual(kinds('generic'), []);
  assert.deepEqual(volumeKinds(familyAdapter('nanos'), image('nanos', { boot: 'disk', diskPath: '/d' }), { args: [], env: [] }), []);
});

test('bootConfig carries the instance\'s mounts as volumes: the linux adapter attaches and mounts them', () => {
  const mounts: MountRecord[] = [
    { type: 'volume', name: 'data', source: '/v/data/data', target: '/data', readonly: false, kind: 'share' },
    { type: 'volume', name: 'disk', source: '/v/disk/disk.img', target: '/disk', readonly: true, kind: 'block' },
  ];
  const config = { ...instanceConfig({ image: 'x', network: 'none' }, { memoryMiB: 128, cpus: 1 }), mounts };
  const cfg = bootConfig(config, networkSettings(config, []));
  assert.deepEqual(cfg.volumes, instanceVolumes(mounts));
  assert.deepEqual(cfg.volumes, [
    { kind: 'share', source: '/v/data/data', target: '/data', readonly: false },
    { kind: 'block', source: '/v/disk/disk.img', target: '/disk', readonly: true, format: 'raw' },
  ]);
  assert.equal(bootConfig({ ...config, mounts: [] }, networkSettings(config, [])).volumes, undefined);
  const spec = familyAdapter('linux').bootSpec(image('linux', { boot: 'linux', kernelPath: '/k' }), cfg);
  assert.match(spec.cmdline, /cunik\.blk=\/dev\/vda:\/disk/);
  assert.match(spec.cmdline, /cunik\.9p=vol0:\/data/);
  const argv = qemuArgv(spec, paths, 'tcg').join(' ');
  assert.match(argv, /path=\/v\/data\/data,security_model=mapped-xattr/);
  assert.match(argv, /file=\/v\/disk\/disk\.img/);
});
