import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusLine, type InstanceRecord } from '../../src/instances/record.js';
import { normalizeSignal } from '../../src/instances/service.js';
import { summariesJson, toSummary } from '../../src/instances/view.js';

const base = { created: '2026-01-01T00:00:00.000Z', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:00.000Z', exitCode: 3 } as InstanceRecord;
const t0 = Date.parse('2026-01-01T00:00:00.000Z');

test('status lines read like docker ps', () => {
  assert.equal(statusLine({ ...base, state: 'created' }, t0), 'Created');
  assert.equal(statusLine({ ...base, state: 'running' }, t0 + 3000), 'Up 3 seconds');
  assert.equal(statusLine({ ...base, state: 'running' }, t0 + 120_000), 'Up 2 minutes');
  assert.equal(statusLine({ ...base, state: 'exited' }, t0 + 1000), 'Exited (3) 1 second ago');
  assert.equal(statusLine({ ...base, state: 'paused' }, t0 + 500), 'Up Less than a second (Paused)');
});

test('an exit code the family cannot tell shows as unknown, not as the stand-in 0', () => {
  assert.equal(statusLine({ ...base, exitCode: 0, exitCodeKnown: false, state: 'exited' }, t0 + 2000), 'Exited (unknown) 2 seconds ago');
  assert.equal(statusLine({ ...base, exitCode: 0, exitCodeKnown: false, state: 'restarting' }, t0 + 2000), 'Restarting (unknown) 2 seconds ago');
  assert.equal(statusLine({ ...base, exitCodeKnown: true, state: 'exited' }, t0 + 2000), 'Exited (3) 2 seconds ago');
});

test('signals are accepted by name, short name or number', () => {
  assert.equal(normalizeSignal('KILL'), 'SIGKILL');
  assert.equal(normalizeSignal('sigterm'), 'SIGTERM');
  assert.equal(normalizeSignal('9'), 'SIGKILL');
  assert.throws(() => normalizeSignal('NOPE'), /invalid signal: NOPE/);
  assert.throws(() => normalizeSignal('999'), /invalid signal: 999/);
});

test('the list as JSON equals its summaries serialised, and follows each record as it changes', () => {
  const make = (n: number, state: InstanceRecord['state'], extra: Partial<InstanceRecord> = {}): InstanceRecord =>
    ({
      ...base,
      id: `${n}`.padStart(64, 'a'),
      name: `name_"${n}"`,
      image: 'hello:latest',
      imageId: `sha256:${'b'.repeat(64)}`,
      family: 'generic',
      state,
      config: { args: n % 2 ? ['idle', 'é "quoted"'] : [] },
      boot: { args: ['from-image'] },
      ...extra,
    }) as unknown as InstanceRecord;
  const ports = [{ guestPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 }];
  const records = [
    make(1, 'running', { network: { ports } } as Partial<InstanceRecord>),
    make(2, 'exited', { network: { ports } } as Partial<InstanceRecord>),
    make(3, 'created'),
    make(4, 'paused'),
  ];
  const now = t0 + 5000;
  const expected = (): unknown => JSON.parse(JSON.stringify(records.map(toSummary))).map((s: { status: string }, i: number) => ({ ...s, status: statusLine(records[i]!, now) }));
  assert.deepEqual(JSON.parse(summariesJson(records, now)), expected());
  assert.equal(summariesJson([], now), '[]');
  // What changes (state, status, ports) is read afresh; what never changes is kept.
  Object.assign(records[0]!, { state: 'exited' });
  Object.assign(records[2]!, { state: 'running', network: { ports } });
  assert.deepEqual(JSON.parse(summariesJson(records, now)), expected());
  assert.equal(JSON.parse(summariesJson(records, now))[2].ports[0].hostPort, 8080);
});
