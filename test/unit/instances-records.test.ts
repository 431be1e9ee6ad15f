// Instance records are checked against their schema when read: a damaged one is set aside whole
// (never deleted), the others load; only a directory that never got a record (run -d killed
// before its first save) is removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceStore } from '../../src/instances/store.js';
import type { InstanceRecord } from '../../src/instances/record.js';
import { parseStoredRecord } from '../../src/instances/record-schema.js';

const hex = (c: string) => c.repeat(64);

function record(id: string, name: string, state: InstanceRecord['state'] = 'exited'): InstanceRecord {
  return {
    id, name, image: 'hello', imageId: `sha256:${hex('a')}`, family: 'generic', state,
    created: new Date().toISOString(), startedAt: null, finishedAt: null, exitCode: 0, pid: null,
    config: { args: [], env: [], memoryMiB: 32, cpus: 1, autoRemove: false, restartPolicy: { name: 'no', maximumRetryCount: 0 }, network: 'none', ports: [], mounts: [] },
    restartCount: 0, manuallyStopped: false,
    boot: { family: 'generic', boot: 'multiboot', args: [], env: [], memoryMiB: 32, cpus: 1, labels: {} },
    vm: { driver: 'qemu', machine: 'microvm', accelerator: null, argv: [] },
  };
}

async function withStore(fn: (store: InstanceStore, root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cunik-records-'));
  try {
    const store = new InstanceStore(root);
    await store.init();
    await fn(store, root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test('a truncated record, wrong field types, a record of another directory: each set aside whole with its reason; the good one loads', async () => {
  await withStore(async (store, root) => {
    const ids = { good: hex('1'), cut: hex('2'), types: hex('3'), moved: hex('4'), file: hex('5') };
    for (const [name, id] of Object.entries(ids)) {
      if (name === 'file') continue;
      await store.create(record(id, name), {});
      writeFileSync(join(store.instanceDir(id), 'console.log'), `${name} output\n`);
      writeFileSync(join(store.instanceDir(id), 'exit'), '3\n');
    }
    const rec = (id: string) => join(store.instanceDir(id), 'instance.json');
    truncateSync(rec(ids.cut), readFileSync(rec(ids.cut)).length - 10);
    writeFileSync(rec(ids.types), JSON.stringify({ id: 5, name: ['x'] }));
    writeFileSync(rec(ids.moved), JSON.stringify(record(ids.good, 'other')));
    writeFileSync(join(store.dir, ids.file), 'not a directory');

    const { records, dropped, quarantined } = await store.loadAll();
    assert.deepEqual(records.map((r) => r.name), ['good']);
    assert.deepEqual(dropped, []);
    const why = Object.fromEntries(quarantined.map((q) => [q.id, q.reason]));
    assert.match(why[ids.cut]!, /^its instance\.json is damaged: not JSON/);
    assert.match(why[ids.types]!, /^its instance\.json is damaged: the record: must have required properties image/);
    assert.match(why[ids.moved]!, /is not its directory's/);
    assert.match(why[ids.file]!, /not an instance directory/);
    assert.deepEqual(readdirSync(store.dir).sort(), [ids.good]);
    for (const q of quarantined) {
      assert.ok(q.path.startsWith(join(root, 'quarantine', 'instances', `${q.id}-`)), q.path);
      if (q.id === ids.file) continue;
      // Nothing lost: the console and exit code are there, with the reason.
      assert.match(readFileSync(join(q.path, 'console.log'), 'utf8'), /output/);
      assert.equal(readFileSync(join(q.path, 'exit'), 'utf8'), '3\n');
      assert.equal(readFileSync(join(q.path, 'REASON'), 'utf8').trim(), q.reason);
    }
    assert.deepEqual(store.listQuarantined().map((q) => q.id).sort(), Object.values(ids).filter((i) => i !== ids.good).sort());
    assert.equal(store.clearQuarantine().length, 4);
    assert.deepEqual(store.listQuarantined(), []);
  });
});

test('a directory that never got a record (run -d before its first save) is still removed; an unreadable record is not', async () => {
  await withStore(async (store) => {
    const never = hex('6');
    const unreadable = hex('7');
    await store.create(record(never, 'never'), {}, false);
    await store.create(record(unreadable, 'unreadable'), {});
    rmSync(join(store.instanceDir(unreadable), 'instance.json'));
    mkdirSync(join(store.instanceDir(unreadable), 'instance.json')); // EISDIR on read
    const { records, dropped, quarantined } = await store.loadAll();
    assert.deepEqual(records, []);
    assert.deepEqual(dropped, [never]);
    assert.equal(existsSync(store.instanceDir(never)), false);
    assert.deepEqual(quarantined.map((q) => q.id), [unreadable]);
    assert.match(quarantined[0]!.reason, /cannot be read \(EISDIR\)/);
  });
});

test('two records with one name: the second is set aside', async () => {
  await withStore(async (store) => {
    await store.create(record(hex('8'), 'twin'), {});
    await store.create(record(hex('9'), 'twin'), {});
    const { records, quarantined } = await store.loadAll();
    assert.equal(records.length, 1);
    assert.match(quarantined[0]!.reason, /its name twin is another instance's/);
  });
});

test('the schema takes every record this version writes and names the first field at fault', () => {
  const r = record(hex('a'), 'ok', 'running');
  assert.deepEqual(parseStoredRecord(JSON.stringify(r), r.id), { record: r });
  const bad = (patch: object) => parseStoredRecord(JSON.stringify({ ...r, ...patch }), r.id);
  assert.match((bad({ state: 'flying' }) as { error: string }).error, /^\/state: /);
  assert.match((bad({ pid: '12' }) as { error: string }).error, /^\/pid: /);
  assert.match((bad({ config: { ...r.config, memoryMiB: 'lots' } }) as { error: string }).error, /^\/config\/memoryMiB: /);
  assert.deepEqual(parseStoredRecord('', r.id), { error: 'the file is empty' });
  // An exited record as markExited writes it: how the code was derived, and QEMU's stderr.
  const exited = { ...r, state: 'exited', pid: null, exitCode: 143, exitCodeKnown: true, exitNote: 'QEMU was killed by SIGTERM', exitSource: 'signal', error: 'qemu-system-x86_64: terminating on signal 15 from pid 1 (init)' };
  assert.deepEqual(parseStoredRecord(JSON.stringify(exited), r.id), { record: exited });
  assert.match((bad({ exitSource: 'guessed' }) as { error: string }).error, /^\/exitSource: /);
  // Fields a later version adds are no reason to set a record aside.
  assert.ok('record' in parseStoredRecord(JSON.stringify({ ...r, future: { x: 1 } }), r.id));
});
