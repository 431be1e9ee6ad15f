// The CLI's volume flags: -v/--volume (Docker's NAME:/PATH[:ro], /HOST:/PATH[:ro], /PATH), --size,
// --label and volume ls --filter; each bad value is refused with a message naming what is wrong.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLabel, parseSizeBytes, parseVolumeSpec } from '../../src/cli/parse.js';
import { parseMountCsv } from '../../src/volumes/mount-spec.js';
import { matchesVolume, parseVolumeFilters, type VolumeSubject } from '../../src/volumes/filter.js';
import { volumeCreateRequest } from '../../src/cli/commands/volume-create.js';
import { localDriverOpts, type DriverOptsRequest } from '../../src/volumes/driver-opts.js';
import { createRequest } from '../../src/cli/instance-flags.js';

test('-v takes named volumes, host folders and anonymous volumes, with ro/rw, repeatable', () => {
  assert.deepEqual(parseVolumeSpec('data:/data'), [{ type: 'volume', source: 'data', target: '/data' }]);
  assert.deepEqual(parseVolumeSpec('my.vol_1:/var/lib/x:ro'), [{ type: 'volume', source: 'my.vol_1', target: '/var/lib/x', readonly: true }]);
  assert.deepEqual(parseVolumeSpec('/srv/www:/www:rw'), [{ type: 'bind', source: '/srv/www', target: '/www', readonly: false }]);
  assert.deepEqual(parseVolumeSpec('/srv/www:/www:ro,ro'), [{ type: 'bind', source: '/srv/www', target: '/www', readonly: true }]);
  assert.deepEqual(parseVolumeSpec('/cache'), [{ type: 'volume', target: '/cache' }]);
  const two = parseVolumeSpec('bb:/b', parseVolumeSpec('aa:/a'));
  assert.deepEqual(two.map((s) => s.source), ['aa', 'bb']);
  assert.throws(() => parseVolumeSpec('a:/a'), /"a" is not a volume name/, 'two characters at least, as Docker');
  const req = createRequest('img', [], { env: [], publish: [], volume: two });
  assert.deepEqual(req.mounts, two, 'create/run send them as mounts');
  assert.equal(createRequest('img', [], { env: [], publish: [], volume: [] }).mounts, undefined);
});

test('bad -v values are refused, naming the value and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['data:relative', /"data:relative": the guest path must be an absolute path/],
    ['relative', /the guest path must be an absolute path/],
    ['data:/x:zz', /unknown option "zz" \(ro or rw\)/],
    ['data:/x:ro,rw', /both ro and rw/],
    [':/x', /empty part/],
    ['data:', /empty part/],
    ['data::ro', /empty part/],
    ['', /empty part/],
    ['./d:/x', /"\.\/d" is not a volume name .*absolute path/],
    ['-x:/x', /is not a volume name/],
    ['a:/b:ro:d', /use NAME:\/GUEST\/PATH\[:ro\]/],
  ];
  for (const [value, re] of cases) assert.throws(() => parseVolumeSpec(value), re, value);
});

test('volume create: --size and --label parse; --size needs a block volume', () => {
  assert.equal(parseSizeBytes('64m'), 64 * 1024 * 1024);
  assert.equal(parseSizeBytes('1G'), 1024 ** 3);
  assert.equal(parseSizeBytes('256MiB'), 256 * 1024 * 1024);
  assert.equal(parseSizeBytes(String(8 * 1024 * 1024)), 8 * 1024 * 1024);
  for (const bad of ['', 'x', '1.5', '-1m', '0', '4096', '7m', '17t']) assert.throws(() => parseSizeBytes(bad), /invalid size/, bad);
  assert.deepEqual(parseLabel('b=2', parseLabel('a=1=x')), { a: '1=x', b: '2' });
  assert.deepEqual(parseLabel('flag'), { flag: '' });
  assert.throws(() => parseLabel('=v'), /invalid label/);
  assert.deepEqual(volumeCreateRequest('vv', { driver: 'block', size: 1 << 27, label: { a: 'b' }, opt: {} }), { driver: 'block', name: 'vv', sizeBytes: 1 << 27, labels: { a: 'b' } });
  assert.deepEqual(volumeCreateRequest(undefined, { driver: 'share', label: {}, opt: {} }), { driver: 'share' });
  assert.throws(() => volumeCreateRequest('vv', { driver: 'share', size: 1 << 27, label: {}, opt: {} }), /--size is for block volumes/);
  for (const bad of ['x', '-x', 'a/b', '.v']) assert.throws(() => volumeCreateRequest(bad, { driver: 'share', label: {}, opt: {} }), /invalid volume name/, bad);
  // Docker's -o: the size, or a host folder.
  assert.deepEqual(volumeCreateRequest('vv', { driver: 'block', label: {}, opt: { size: '128m' } }), { driver: 'block', name: 'vv', sizeBytes: 1 << 27 });
  assert.deepEqual(volumeCreateRequest('vv', { driver: 'share', label: {}, opt: { type: 'none', o: 'bind', device: '/srv/data/' } }), { driver: 'share', name: 'vv', device: '/srv/data' });
  assert.throws(() => volumeCreateRequest('vv', { driver: 'block', size: 1 << 27, label: {}, opt: { size: '64m' } }), /give the size once/);
  assert.throws(() => volumeCreateRequest('vv', { driver: 'block', label: {}, opt: { type: 'none', o: 'bind', device: '/srv' } }), /is a share volume/);
});

test("Docker's local driver options: size, or type=none,o=bind,device=PATH; anything else refused by name", () => {
  const ok: [Record<string, unknown>, DriverOptsRequest][] = [
    [{}, {}],
    [{ size: '64m' }, { sizeBytes: 64 << 20 }],
    [{ type: 'none', o: 'bind', device: '/srv/data' }, { device: '/srv/data' }],
    [{ type: 'none', o: 'rbind,bind', device: '/srv//data/./' }, { device: '/srv/data' }],
    [{ type: 'none', o: 'bind', device: '/' }, { device: '/' }],
  ];
  for (const [opts, want] of ok) assert.deepEqual(localDriverOpts(opts), want, JSON.stringify(opts));
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ size: 'big' }, /size "big" is not a size/],
    [{ size: 64 }, /size must be a string/],
    [{ type: 'nfs', o: 'addr=10.0.0.1', device: ':/export' }, /takes type=none, o=bind and device=PATH together/],
    [{ type: 'tmpfs', device: 'tmpfs' }, /together/],
    [{ type: 'none', device: '/srv' }, /together/],
    [{ o: 'bind', device: '/srv' }, /together/],
    [{ type: 'none', o: 'bind' }, /together/],
    [{ type: 'none', o: 'bind,uid=1000', device: '/srv' }, /only bind is supported \(uid=1000 is not\)/],
    [{ type: 'none', o: 'bind', device: 'srv' }, /must be an absolute host path/],
    [{ type: 'none', o: 'bind', device: '/srv', size: '1g' }, /takes no size/],
    [{ uid: '1000' }, /volume option uid is not supported/],
  ];
  for (const [opts, want] of bad) assert.throws(() => localDriverOpts(opts), want, JSON.stringify(opts));
});

test('volume ls filters: name, label, driver, dangling; values of one key are alternatives, labels all hold; bad ones refused', () => {
  const vols: VolumeSubject[] = [
    { name: 'db-data', driver: 'block', labels: { team: 'core', tier: 'db' }, usedBy: ['i1'] },
    { name: 'cache', driver: 'share', labels: { team: 'core' }, usedBy: [] },
    { name: 'scratch', driver: 'share', labels: {}, usedBy: [] },
  ];
  const pick = (f: Record<string, string[]>) => vols.filter((v) => matchesVolume(v, f)).map((v) => v.name);
  const cases: [Record<string, string[]>, string[]][] = [
    [{}, ['db-data', 'cache', 'scratch']],
    [{ name: ['a'] }, ['db-data', 'cache', 'scratch']],
    [{ name: ['db', 'cac'] }, ['db-data', 'cache']],
    [{ label: ['team'] }, ['db-data', 'cache']],
    [{ label: ['team=core', 'tier=db'] }, ['db-data']],
    [{ label: ['team=other'] }, []],
    [{ driver: ['share'] }, ['cache', 'scratch']],
    [{ dangling: ['true'] }, ['cache', 'scratch']],
    [{ dangling: ['0'] }, ['db-data']],
    [{ driver: ['share'], label: ['team'] }, ['cache']],
  ];
  for (const [f, want] of cases) assert.deepEqual(pick(f), want, JSON.stringify(f));
  assert.deepEqual(parseVolumeFilters('{"label":["a=b"],"driver":["block"]}'), { label: ['a=b'], driver: ['block'] });
  for (const bad of ['{"size":["1"]}', '{"dangling":["maybe"]}', '{"name":[""]}', '[]', 'nope', '{"label":"a"}']) {
    assert.throws(() => parseVolumeFilters(bad), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && !e.message.includes('\n'), bad);
  }
});

test("--mount: Docker's CSV as the mount -v would make; what a VM cannot honour refused by name", () => {
  const ok: [string, unknown][] = [
    ['type=volume,source=data,target=/data', { type: 'volume', source: 'data', target: '/data' }],
    ['src=data,dst=/data,readonly', { type: 'volume', source: 'data', target: '/data', readonly: true }],
    ['type=bind,source=/srv/www,destination=/www,ro=true', { type: 'bind', source: '/srv/www', target: '/www', readonly: true }],
    ['type=bind,src=/srv,target=/srv,readonly=false,consistency=cached', { type: 'bind', source: '/srv', target: '/srv' }],
    ['target=/scratch', { type: 'volume', target: '/scratch' }],
    ['TYPE=volume,Target=/x', { type: 'volume', target: '/x' }],
  ];
  for (const [csv, want] of ok) assert.deepEqual(parseMountCsv(csv), want, csv);
  const bad: [string, RegExp][] = [
    ['type=tmpfs,target=/t', /type "tmpfs" is not supported \(volume or bind\)/],
    ['type=bind,target=/t', /a bind mount needs a source/],
    ['type=bind,source=rel,target=/t', /the bind source "rel" must be an absolute path/],
    ['source=data', /a target \(the guest path\) must be given/],
    ['source=data,target=rel', /the target "rel" must be an absolute path/],
    ['source=-x,target=/t', /"-x" is not a volume name/],
    ['source=v,target=/t,volume-opt=size=1g,bind-propagation=rshared', /volume-opt, bind-propagation are not supported/],
    ['source=v,target=/t,readonly=maybe', /readonly=maybe \(true or false\)/],
    ['source,target=/t', /source needs a value/],
    ['source=v,,target=/t', /an empty field/],
  ];
  for (const [csv, re] of bad) assert.throws(() => parseMountCsv(csv), (e: Error & { code?: string }) => re.test(e.message) && e.code === 'INVALID_ARGUMENT' && !e.message.includes('\n'), csv);
});
