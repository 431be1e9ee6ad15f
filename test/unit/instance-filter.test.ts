// ps --filter (instances/filter.ts) and --env-file/--label-file parsing (cli/parse.ts): table tests.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEnvFileText, parseLabelFileText } from '../../src/cli/parse.js';
import { matchesInstance, needsAll, parseInstanceFilters } from '../../src/instances/filter.js';
import type { InstanceRecord } from '../../src/instances/record.js';
import { prunable } from '../../src/instances/prune.js';

const rec = (over: Partial<InstanceRecord> & { labels?: Record<string, string> }, created: string): InstanceRecord =>
  ({
    id: (over.name ?? 'x').padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'),
    name: 'x',
    image: 'hello',
    imageId: 'sha256:abcdef0123',
    family: 'generic',
    state: 'exited',
    created,
    startedAt: null,
    finishedAt: null,
    exitCode: 0,
    pid: null,
    config: { args: [], env: [], memoryMiB: 16, cpus: 1, autoRemove: false, network: 'user', mounts: [{ type: 'volume', name: 'data', source: '/v', target: '/data', readonly: false, kind: 'share' }], ...(over.labels && { labels: over.labels }) },
    boot: {} as InstanceRecord['boot'],
    vm: { driver: 'qemu', machine: 'q35', accelerator: null, argv: [] },
    ...over,
  }) as InstanceRecord;

const a = rec({ name: 'web-1', state: 'running', labels: { env: 'prod', tier: '' } }, '2026-01-01T00:00:01Z');
// web-1 publishes 8080/tcp (guest 80) and its image exposes 80 and 53/udp; db publishes 5432.
a.config.ports = [{ guestPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }];
a.boot = { labels: { 'org.cunik.ports': '["80","53/udp"]' } } as unknown as InstanceRecord['boot'];
const b = rec({ name: 'db', image: 'other:2', imageId: 'sha256:ffff', exitCode: 3, labels: { env: 'test' } }, '2026-01-01T00:00:02Z');
b.config.ports = [{ guestPort: 5432, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }];
b.boot = { labels: { 'org.cunik.ports': 'not json' } } as unknown as InstanceRecord['boot'];
const c = rec({ name: 'web-2', state: 'created', exitCode: null }, '2026-01-01T00:00:03Z');
const all = [a, b, c];
const ctx = { resolve: (ref: string) => all.find((r) => r.name === ref)!, health: (r: InstanceRecord) => (r === a ? 'healthy' : 'none') };

test('each filter key, Docker rules: values of one key OR, keys AND, label terms AND', () => {
  const cases: [Record<string, string[]>, string[]][] = [
    [{}, ['web-1', 'db', 'web-2']],
    [{ name: ['web'] }, ['web-1', 'web-2']],
    [{ name: ['db', '-2'] }, ['db', 'web-2']],
    [{ label: ['env'] }, ['web-1', 'db']],
    [{ label: ['env=prod'] }, ['web-1']],
    [{ label: ['env', 'tier'] }, ['web-1']],
    [{ label: ['tier='] }, ['web-1']],
    [{ status: ['running', 'created'] }, ['web-1', 'web-2']],
    [{ ancestor: ['hello'] }, ['web-1', 'web-2']],
    [{ ancestor: ['hello:latest'] }, ['web-1', 'web-2']],
    [{ ancestor: ['ffff'] }, ['db']],
    [{ ancestor: ['other:2'] }, ['db']],
    [{ before: ['db'] }, ['web-1']],
    [{ since: ['web-1'] }, ['db', 'web-2']],
    [{ since: ['web-1'], before: ['web-2'] }, ['db']],
    [{ exited: ['3'] }, ['db']],
    [{ exited: ['0'] }, []],
    [{ network: ['user'] }, ['web-1', 'db', 'web-2']],
    [{ network: ['none'] }, []],
    [{ volume: ['data'] }, ['web-1', 'db', 'web-2']],
    [{ volume: ['/data'] }, ['web-1', 'db', 'web-2']],
    [{ health: ['healthy'] }, ['web-1']],
    [{ health: ['none'] }, ['db', 'web-2']],
    [{ id: [a.id.slice(0, 6)] }, ['web-1']],
    [{ name: ['web'], label: ['env'] }, ['web-1']],
    [{ publish: ['80'] }, ['web-1']],
    [{ publish: ['80/udp'] }, []],
    [{ publish: ['5000-6000'] }, ['db']],
    [{ publish: ['8080'] }, []],
    [{ expose: ['53/udp'] }, ['web-1']],
    [{ expose: ['5432'] }, ['db']],
    [{ expose: ['1-100'] }, ['web-1']],
  ];
  for (const [f, expected] of cases) {
    const parsed = parseInstanceFilters(JSON.stringify(f));
    assert.deepEqual(all.filter((r) => matchesInstance(r, parsed, ctx)).map((r) => r.name), expected, JSON.stringify(f));
  }
});

test('bad filters are one sentence each; status and exited look at every instance', () => {
  const bad: [string, RegExp][] = [
    ['{"colour":["red"]}', /invalid filter "colour" for ps/],
    ['{"status":["sleepy"]}', /invalid filter status=sleepy \(one of created, running/],
    ['{"exited":["three"]}', /invalid filter exited=three/],
    ['{"health":["fine"]}', /invalid filter health=fine/],
    ['{"publish":["80/sctp"]}', /invalid filter publish=80\/sctp \(PORT or START-END, then \/tcp or \/udp\)/],
    ['{"expose":["90-80"]}', /invalid filter expose=90-80/],
    ['{"publish":["70000"]}', /invalid filter publish=70000/],
    ['{"name":"web"}', /name needs a list of non-empty strings/],
    ['[1]', /not a JSON object/],
    ['{', /not a JSON object/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseInstanceFilters(text), re, text);
  assert.equal(needsAll(parseInstanceFilters('{"status":["exited"]}')), true);
  assert.equal(needsAll(parseInstanceFilters('{"name":["x"]}')), false);
});

test('--env-file: Docker format; --label-file', () => {
  const cases: [string, NodeJS.ProcessEnv, string[]][] = [
    ['A=1\nB=two words\n', {}, ['A=1', 'B=two words']],
    ['# comment\n\n  C=3\r\n', {}, ['C=3']],
    ['Q="quoted"\n', {}, ['Q="quoted"']],
    ['FROM_HOST\nMISSING\n', { FROM_HOST: 'h' }, ['FROM_HOST=h']],
    ['E=\n', {}, ['E=']],
  ];
  for (const [text, env, expected] of cases) assert.deepEqual(parseEnvFileText(text, 'f', env), expected, text);
  assert.throws(() => parseEnvFileText('ok=1\n1BAD=x\n', 'my.env', {}), /invalid environment variable in my.env line 2: "1BAD=x"/);
  assert.deepEqual(parseLabelFileText('# c\na=1\nb\n', { z: '0' }), { z: '0', a: '1', b: '' });
});

test('container prune filters: until is created before, every label term holds, no label! term does', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  const r = (created: string, labels: Record<string, string> = {}) => ({ created, config: { labels } });
  const old = r('2026-05-01T00:00:00Z', { env: 'ci', keep: '' });
  const fresh = r('2026-06-01T11:59:00Z');
  const cases: [Record<string, string[]>, boolean, boolean][] = [
    [{}, true, true],
    [{ until: ['24h'] }, true, false],
    [{ until: ['2026-05-15T00:00:00Z'] }, true, false],
    [{ label: ['env=ci'] }, true, false],
    [{ label: ['env=ci', 'keep'] }, true, false],
    [{ label: ['env=prod'] }, false, false],
    [{ 'label!': ['keep'] }, false, true],
    [{ until: ['1h'], 'label!': ['env=prod'] }, true, false],
  ];
  for (const [f, forOld, forFresh] of cases) {
    assert.equal(prunable(old, f, now), forOld, `old ${JSON.stringify(f)}`);
    assert.equal(prunable(fresh, f, now), forFresh, `fresh ${JSON.stringify(f)}`);
  }
});
