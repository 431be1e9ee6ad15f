// network ls/prune filters: Docker's JSON map parsed (untrusted), each key's terms, and the
// combination rules (one key's values OR, keys AND, labels AND).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LS_FILTERS, matchesFilters, parseNetworkFilters as parseFilters, PRUNE_FILTERS } from '../../src/network/bridge/filter.js';
import { addFilterTerm, untilTime } from '../../src/util/filters.js';
import type { NetworkRecord } from '../../src/network/bridge/spec.js';

const net = (over: Partial<NetworkRecord> = {}): NetworkRecord => ({
  id: 'ab12'.padEnd(64, '0'), name: 'front-end', driver: 'bridge', subnet: '10.213.5.0/24', gateway: '10.213.5.1', internal: false, labels: { tier: 'front', env: 'test' }, bridge: 'cunikbr-ab12000', createdAt: '2026-01-01T00:00:00.000Z', ...over,
});
const subject = (over: Partial<NetworkRecord> = {}, inUse = false, builtin = false) => ({ net: net(over), inUse, builtin });

test('CLI terms build the map; a term without KEY=VALUE is refused', () => {
  assert.deepEqual(['name=a', 'label=x=y', 'name=b'].reduce((f, t) => addFilterTerm(t, f), {}), { name: ['a', 'b'], label: ['x=y'] });
  for (const bad of ['name', '=x', 'name=']) assert.throws(() => addFilterTerm(bad), /^Error: invalid filter/);
});

test('the API map: JSON of string lists, only the verb\'s keys, checked values, one-line refusals', () => {
  assert.deepEqual(parseFilters(undefined, LS_FILTERS, 'network ls'), {});
  assert.deepEqual(parseFilters('{"name":["a"],"dangling":["true"],"label":[]}', LS_FILTERS, 'network ls'), { name: ['a'], dangling: ['true'] });
  const bad: [string, readonly string[], RegExp][] = [
    ['nope', LS_FILTERS, /^filters: not a JSON object/],
    ['["name"]', LS_FILTERS, /^filters: not a JSON object/],
    ['{"until":["1h"]}', LS_FILTERS, /^invalid filter "until" for network ls \(one of name, id, label, driver, type, dangling\)$/],
    ['{"name":"a"}', LS_FILTERS, /^filters: name needs a list of non-empty strings$/],
    ['{"name":[1]}', LS_FILTERS, /needs a list of non-empty strings/],
    ['{"dangling":["maybe"]}', LS_FILTERS, /^invalid filter dangling=maybe \(true or false\)$/],
    ['{"type":["odd"]}', LS_FILTERS, /^invalid filter type=odd/],
    ['{"name":["a"]}', PRUNE_FILTERS, /^invalid filter "name" for network prune/],
    ['{"until":["yesterday-ish"]}', PRUNE_FILTERS, /^invalid filter until=yesterday-ish/],
  ];
  for (const [text, allowed, why] of bad) {
    assert.throws(() => parseFilters(text, allowed, allowed === LS_FILTERS ? 'network ls' : 'network prune'), (e: Error & { code?: string }) => why.test(e.message) && e.code === 'INVALID_ARGUMENT', text);
  }
});

test('until: a Unix timestamp, a date, or a duration before now', () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  assert.equal(untilTime('1767225600', now), Date.parse('2026-01-01T00:00:00Z'));
  assert.equal(untilTime('2026-01-01T12:00:00Z', now), Date.parse('2026-01-01T12:00:00Z'));
  assert.equal(untilTime('1h30m', now), now - 90 * 60_000);
  assert.equal(untilTime('24h', now), Date.parse('2026-01-01T00:00:00Z'));
  assert.equal(untilTime('45s', now), now - 45_000);
});

test('each key, and how they combine', () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  const yes: [ReturnType<typeof subject>, Record<string, string[]>][] = [
    [subject(), {}],
    [subject(), { name: ['front'] }],
    [subject(), { name: ['nomatch', 'end'] }],
    [subject(), { id: ['ab12'] }],
    [subject(), { driver: ['bridge'] }],
    [subject(), { type: ['custom'] }],
    [subject({}, false, true), { type: ['builtin'] }],
    [subject(), { dangling: ['true'] }],
    [subject({}, true), { dangling: ['false'] }],
    [subject(), { label: ['tier'] }],
    [subject(), { label: ['tier=front', 'env=test'] }],
    [subject(), { 'label!': ['tier=back'] }],
    [subject(), { until: ['12h'] }],
    [subject(), { name: ['front'], label: ['env'], dangling: ['1'] }],
  ];
  for (const [s, f] of yes) assert.ok(matchesFilters(s, f, now), JSON.stringify(f));
  const no: [ReturnType<typeof subject>, Record<string, string[]>][] = [
    [subject(), { name: ['back'] }],
    [subject(), { id: ['12'] }],
    [subject(), { type: ['builtin'] }],
    [subject({}, true), { dangling: ['true'] }],
    [subject(), { dangling: ['0'] }],
    [subject(), { label: ['tier=back'] }],
    [subject(), { label: ['tier=front', 'env=prod'] }],
    [subject(), { label: ['owner'] }],
    [subject(), { 'label!': ['tier'] }],
    [subject(), { until: ['2025-12-31T00:00:00Z'] }],
    [subject(), { name: ['front'], dangling: ['false'] }],
  ];
  for (const [s, f] of no) assert.ok(!matchesFilters(s, f, now), JSON.stringify(f));
});
