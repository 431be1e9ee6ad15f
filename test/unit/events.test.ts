// The event log: ring buffer, Docker's since/until forms, filters, and the replay-then-live stream.
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { CunikError } from '../../src/errors.js';
import { EventLog, eventUs, type CunikEvent } from '../../src/events/log.js';
import { matches, parseFilters } from '../../src/events/filter.js';
import { imageEventRecorder, instanceEventRecorder } from '../../src/events/sources.js';
import { eventStream, parseEventQuery } from '../../src/events/stream.js';
import { parseDurationUs, parseTimestamp } from '../../src/events/time.js';
import { eventLine, formatTimeNano } from '../../src/cli/format/events.js';

/** A log on a fake clock (microseconds) that tests move by hand. */
function fakeLog(capacity = 1000, start = 1_763_784_000_000_000) {
  const clock = { us: start };
  const log = new EventLog(capacity, () => clock.us);
  return { log, clock };
}

const inst = (action: string, name = 'x', id = 'a'.repeat(64)) => ({ type: 'instance' as const, action, id, attributes: { name } });

/** What a stream has buffered so far, without waiting. */
function buffered(stream: Readable): CunikEvent[] {
  const out: CunikEvent[] = [];
  for (let e; (e = stream.read()) !== null; ) out.push(e as CunikEvent);
  return out;
}

async function collect(stream: Readable): Promise<CunikEvent[]> {
  const out: CunikEvent[] = [];
  for await (const e of stream) out.push(e as CunikEvent);
  return out;
}

test('the ring buffer keeps the last `capacity` events, oldest first', () => {
  const { log, clock } = fakeLog(3);
  for (let i = 0; i < 5; i++) {
    clock.us += 1_000_000;
    log.publish(inst(`a${i}`));
  }
  assert.deepEqual(log.events().map((e) => e.action), ['a2', 'a3', 'a4']);
  assert.equal(new EventLog().capacity, 1000);
  assert.throws(() => new EventLog(0), RangeError);
});

test('event times strictly increase, in seconds and nanoseconds', () => {
  const { log, clock } = fakeLog();
  const a = log.publish(inst('create'));
  const b = log.publish(inst('start')); // same clock reading
  assert.equal(a.time, Math.floor(clock.us / 1e6));
  assert.equal(eventUs(a), clock.us);
  assert.equal(eventUs(b), clock.us + 1);
  assert.ok(b.timeNano > a.timeNano);
  assert.equal(String(a.timeNano), `${clock.us}000`);
});

test('attributes are strings; undefined ones are dropped', () => {
  const { log } = fakeLog();
  const e = log.publish({ type: 'instance', action: 'die', id: 'i', attributes: { name: 'x', exitCode: 3, image: undefined } });
  assert.deepEqual(e.attributes, { name: 'x', exitCode: '3' });
});

test('events(since, until) is inclusive on both ends', () => {
  const { log, clock } = fakeLog();
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    clock.us += 10;
    times.push(eventUs(log.publish(inst(`a${i}`))));
  }
  assert.deepEqual(log.events(times[1], times[3]).map((e) => e.action), ['a1', 'a2', 'a3']);
  assert.deepEqual(log.events(times[4]).map((e) => e.action), ['a4']);
  assert.deepEqual(log.events(undefined, times[0]).map((e) => e.action), ['a0']);
});

test('subscribers hear each event; a throwing one does not stop the others', () => {
  const { log } = fakeLog();
  const heard: string[] = [];
  const off = log.subscribe((e) => heard.push(e.action));
  log.subscribe(() => {
    throw new Error('bad listener');
  });
  log.publish(inst('create'));
  off();
  log.publish(inst('start'));
  assert.deepEqual(heard, ['create']);
  assert.equal(log.subscribers, 1);
});

test('timestamps: Docker forms (durations, RFC 3339, Unix seconds)', () => {
  const now = Date.parse('2026-11-22T04:00:00Z') * 1000;
  assert.equal(parseTimestamp('10s', now), now - 10e6);
  assert.equal(parseTimestamp('5m', now), now - 300e6);
  assert.equal(parseTimestamp('1h30m', now), now - 5400e6);
  assert.equal(parseTimestamp('1.5h', now), now - 5400e6);
  assert.equal(parseTimestamp('250ms', now), now - 250_000);
  assert.equal(parseTimestamp('2026-11-22T03:00:00Z', now), now - 3600e6);
  assert.equal(parseTimestamp('2026-11-22T05:00:00+02:00', now), now - 3600e6);
  assert.equal(parseTimestamp('2026-11-22T04:00:00.123456789Z', now), now + 123456);
  assert.equal(parseTimestamp('1763784000', now), 1_763_784_000_000_000);
  assert.equal(parseTimestamp('1763784000.5', now), 1_763_784_000_500_000);
  assert.equal(parseTimestamp('0', now), 0, '"0" is the epoch, not a zero duration');
  // Without a zone: local time, as Docker reads it.
  assert.equal(parseTimestamp('2026-11-22T04:00:00', now), new Date(2026, 10, 22, 4, 0, 0).getTime() * 1000);
  assert.equal(parseTimestamp('2026-11-22', now), new Date(2026, 10, 22).getTime() * 1000);
  assert.equal(parseDurationUs('2h'), 7200e6);
  assert.equal(parseDurationUs('yesterday'), undefined);
});

test('bad timestamps are INVALID_ARGUMENT naming the field', () => {
  for (const bad of ['yesterday', '10x', '', '2026-13-01', '2026-02-31', '-5m', '12:00']) {
    assert.throws(() => parseTimestamp(bad, 0, 'until'), (err: unknown) => {
      assert.ok(err instanceof CunikError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.equal(err.field, 'until');
      assert.match(err.message, /invalid value for until/);
      return true;
    }, bad);
  }
});

test('filters: Docker JSON forms; unknown keys and types refused', () => {
  assert.deepEqual(parseFilters('{"type":["instance"],"event":["die","start"]}'), { type: ['instance'], event: ['die', 'start'] });
  assert.deepEqual(parseFilters('{"event":{"die":true,"start":false}}'), { event: ['die'] });
  assert.deepEqual(parseFilters(undefined), {});
  assert.throws(() => parseFilters('{"colour":["red"]}'), /invalid filter 'colour'/);
  assert.throws(() => parseFilters('{"type":["container"]}'), /type=instance or type=image/);
  assert.throws(() => parseFilters('not json'), /not JSON/);
  assert.throws(() => parseFilters('[1]'), /JSON object/);
});

test('filters: OR within a key, AND across keys; instance and image matching', () => {
  const { log } = fakeLog();
  const id = 'b'.repeat(64);
  const die = log.publish({ type: 'instance', action: 'die', id, attributes: { name: 'web', image: 'hello', exitCode: 3 } });
  const tag = log.publish({ type: 'image', action: 'tag', id: `sha256:${'c'.repeat(64)}`, attributes: { name: 'hello:v2' } });
  const m = (f: string, e: CunikEvent) => matches(parseFilters(f), e);
  assert.ok(m('{"event":["start","die"]}', die));
  assert.ok(!m('{"event":["start"]}', die));
  assert.ok(m('{"type":["instance"],"event":["die"]}', die));
  assert.ok(!m('{"type":["image"],"event":["die"]}', die));
  assert.ok(m('{"instance":["web"]}', die));
  assert.ok(m('{"instance":["bbbb"]}', die), 'id prefix');
  assert.ok(!m('{"instance":["web"]}', tag), 'an instance filter excludes image events');
  assert.ok(m('{"image":["hello:v2"]}', tag));
  assert.ok(m('{"image":["cccccccc"]}', tag), 'image id prefix');
  assert.ok(m('{"image":["hello"]}', die), 'instance events by their image reference, default tag');
  assert.ok(m('{"image":["hello:latest"]}', die));
  assert.ok(!m('{"image":["hello"]}', tag), 'hello means hello:latest, not hello:v2');
});

test('stream: without since/until only live events; with since a replay first', async () => {
  const { log, clock } = fakeLog();
  log.publish(inst('create'));
  clock.us += 1_000_000;
  const live = eventStream(log, parseEventQuery({}, log.now()));
  const replay = eventStream(log, parseEventQuery({ since: '10s' }, log.now()));
  log.publish(inst('start'));
  assert.deepEqual(buffered(live).map((e) => e.action), ['start']);
  assert.deepEqual(buffered(replay).map((e) => e.action), ['create', 'start']);
  live.destroy();
  replay.destroy();
  assert.equal(log.subscribers, 0, 'destroying a stream unsubscribes it');
});

test('stream: an until in the past ends after the replay; filters apply to both parts', async () => {
  const { log, clock } = fakeLog();
  log.publish(inst('create', 'web', '1'.repeat(64)));
  log.publish(inst('create', 'db', '2'.repeat(64)));
  clock.us += 5_000_000;
  log.publish(inst('start', 'web', '1'.repeat(64)));
  const s = eventStream(log, parseEventQuery({ since: '1m', until: '2s', filters: '{"instance":["web"]}' }, log.now()));
  assert.deepEqual((await collect(s)).map((e) => `${e.action} ${e.attributes['name']}`), ['create web']);
  assert.equal(log.subscribers, 0);
  // --until alone replays everything kept up to then.
  const u = eventStream(log, parseEventQuery({ until: '0s' }, log.now()));
  assert.equal((await collect(u)).length, 3);
});

test('stream: an until in the future ends at that time (real clock)', async () => {
  const log = new EventLog();
  const s = eventStream(log, parseEventQuery({ until: String((Date.now() + 150) / 1000) }, log.now()));
  log.publish(inst('start'));
  const t0 = Date.now();
  const got = await collect(s);
  assert.deepEqual(got.map((e) => e.action), ['start']);
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(log.subscribers, 0);
});

test('stream: a subscriber that falls too far behind is cut off', async () => {
  const { log } = fakeLog();
  const s = eventStream(log, { filter: {} });
  s.pause();
  for (let i = 0; i < 10_001; i++) log.publish(inst('start'));
  s.resume();
  await assert.rejects(collect(s), /fell 10000 events behind/);
  assert.equal(log.subscribers, 0);
});

test('sources: instance events carry name, image and exitCode; destroy keeps the image', () => {
  const { log } = fakeLog();
  const known = new Map([['i1', 'hello']]);
  const rec = instanceEventRecorder(log, (id) => known.get(id));
  rec.record({ action: 'create', id: 'i1', name: 'x' });
  rec.record({ action: 'die', id: 'i1', name: 'x', exitCode: 3 });
  known.delete('i1');
  rec.record({ action: 'destroy', id: 'i1', name: 'x' });
  rec.remember('i2', 'other');
  rec.record({ action: 'destroy', id: 'i2', name: 'y' });
  imageEventRecorder(log)({ action: 'tag', id: 'sha256:abc', ref: 'hello:v2' });
  imageEventRecorder(log)({ action: 'delete', id: 'sha256:abc' });
  assert.deepEqual(
    log.events().map((e) => [e.type, e.action, e.attributes]),
    [
      ['instance', 'create', { name: 'x', image: 'hello' }],
      ['instance', 'die', { name: 'x', image: 'hello', exitCode: '3' }],
      ['instance', 'destroy', { name: 'x', image: 'hello' }],
      ['instance', 'destroy', { name: 'y', image: 'other' }],
      ['image', 'tag', { name: 'hello:v2' }],
      ['image', 'delete', {}],
    ],
  );
});

test('cli: plain event lines read like docker events', () => {
  const us = Date.parse('2026-11-22T04:00:00Z') * 1000 + 123456;
  assert.equal(formatTimeNano(us * 1000), '2026-11-22T04:00:00.123456000Z');
  const line = eventLine({ type: 'instance', action: 'die', id: 'abc', attributes: { name: 'x', exitCode: '3', image: 'hello' }, time: Math.floor(us / 1e6), timeNano: us * 1000 });
  assert.equal(line, '2026-11-22T04:00:00.123456000Z instance die abc (exitCode=3, image=hello, name=x)\n');
});

