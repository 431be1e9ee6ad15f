import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCpus, parseEnv, parseMemoryMiB, parseSeconds } from '../../src/cli/parse.js';
import { findVerb } from '../../src/cli/main.js';
import { buildPath } from '../../src/client/http.js';

test('memory values with units become MiB', () => {
  const cases: [string, number][] = [['64m', 64], ['64M', 64], ['64MiB', 64], ['64Mi', 64], ['64MB', 64], ['1g', 1024], ['1G', 1024], ['512', 512], ['4096k', 4], ['1.5g', 1536]];
  for (const [input, mib] of cases) assert.equal(parseMemoryMiB(input), mib, input);
});

test('bad memory values are refused with the value in the message', () => {
  for (const bad of ['', 'abc', '-1m', '1x', '2m', '100k', '2t']) {
    assert.throws(() => parseMemoryMiB(bad), (err: Error) => err.message.startsWith(`invalid memory value: ${bad}`), bad);
  }
});

test('cpus must be a whole number from 1 to 255 (the API\'s range)', () => {
  assert.equal(parseCpus('1'), 1);
  assert.equal(parseCpus('255'), 255);
  for (const bad of ['0', '256', '1.5', 'two', '-1', '']) assert.throws(() => parseCpus(bad), /invalid cpus value: .* \(a whole number from 1 to 255\)/, bad);
});

test('env entries must be KEY=VALUE and accumulate', () => {
  assert.deepEqual(parseEnv('B=2', ['A=1']), ['A=1', 'B=2']);
  assert.deepEqual(parseEnv('EMPTY='), ['EMPTY=']);
  for (const bad of ['NOVALUE', '=x', '1A=2']) assert.throws(() => parseEnv(bad), /invalid environment variable/, bad);
});

test('seconds are whole numbers', () => {
  assert.equal(parseSeconds('10'), 10);
  assert.throws(() => parseSeconds('1.5'), /invalid time value/);
});

test('the verb is the first word that is not a global option', () => {
  assert.equal(findVerb(['run', 'hello']), 'run');
  assert.equal(findVerb(['-H', 'unix:///x.sock', 'ps', '-a']), 'ps');
  assert.equal(findVerb(['--host', '/x.sock', 'images']), 'images');
  assert.equal(findVerb(['--help']), undefined);
});

test('query strings repeat arrays and drop undefined values', () => {
  assert.equal(buildPath('/v1/x', { a: true, b: undefined, names: ['p', 'q:1'] }), '/v1/x?a=true&names=p&names=q%3A1');
  assert.equal(buildPath('/v1/x', { b: undefined }), '/v1/x');
});
