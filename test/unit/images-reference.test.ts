import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeReference, parseReference, parseTaggedReference } from '../../src/images/reference.js';
import { CunikError } from '../../src/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

const valid: [string, { name: string; tag?: string; digest?: string; domain?: string }, string][] = [
  ['hello', { name: 'hello', tag: 'latest' }, 'hello:latest'],
  ['hello:1.0', { name: 'hello', tag: '1.0' }, 'hello:1.0'],
  ['team/hello:v2_rc-1', { name: 'team/hello', tag: 'v2_rc-1' }, 'team/hello:v2_rc-1'],
  ['x/a.b_c__d--e', { name: 'x/a.b_c__d--e', tag: 'latest' }, 'x/a.b_c__d--e:latest'],
  ['localhost/hello', { name: 'localhost/hello', tag: 'latest', domain: 'localhost' }, 'localhost/hello:latest'],
  ['localhost:5000/hello:x', { name: 'localhost:5000/hello', tag: 'x', domain: 'localhost:5000' }, 'localhost:5000/hello:x'],
  ['ghcr.io/org/app:Tag', { name: 'ghcr.io/org/app', tag: 'Tag', domain: 'ghcr.io' }, 'ghcr.io/org/app:Tag'],
  ['Registry.Example.com:443/a', { name: 'Registry.Example.com:443/a', tag: 'latest', domain: 'Registry.Example.com:443' }, 'Registry.Example.com:443/a:latest'],
  [`hello@${D}`, { name: 'hello', digest: D }, `hello@${D}`],
  [`hello:1@${D}`, { name: 'hello', tag: '1', digest: D }, `hello:1@${D}`],
];

for (const [input, want, norm] of valid) {
  test(`parseReference(${JSON.stringify(input)})`, () => {
    const r = parseReference(input);
    assert.equal(r.name, want.name);
    assert.equal(r.tag, want.tag);
    assert.equal(r.digest, want.digest);
    assert.equal(r.domain, want.domain);
    assert.equal(normalizeReference(input), norm);
  });
}

const invalidRefs: [string, RegExp][] = [
  ['', /empty reference/],
  ['Hello', /must be lowercase/],
  ['hello:', /tag must match/],
  [':tag', /empty repository name/],
  ['hello:-x', /tag must match/],
  [`hello:${'x'.repeat(129)}`, /tag must match/],
  ['hello/', /empty path component/],
  ['/hello', /empty path component/],
  ['a//b', /empty path component/],
  ['hel lo', /invalid path component/],
  ['-hello', /invalid path component/],
  ['hello-', /invalid path component/],
  ['a..b', /invalid path component/],
  ['a___b', /invalid path component/],
  ['hello@sha256:abc', /digest must be sha256/],
  [`hello@md5:${'a'.repeat(32)}`, /digest must be sha256/],
  ['bad_host.com:x/y', /invalid registry host/],
  [`${'a'.repeat(256)}`, /longer than 255/],
];

for (const [input, re] of invalidRefs) {
  test(`parseReference rejects ${JSON.stringify(input.slice(0, 40))}`, () => {
    assert.throws(() => parseReference(input), (err: unknown) => {
      assert.ok(err instanceof CunikError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.equal(err.field, 'ref');
      assert.match(err.message, /^invalid reference format: /);
      assert.match(err.message, re);
      return true;
    });
  });
}

test('parseTaggedReference defaults the tag and refuses digests', () => {
  assert.deepEqual(parseTaggedReference('hello'), { name: 'hello', tag: 'latest', ref: 'hello:latest' });
  assert.deepEqual(parseTaggedReference('r.io:5000/a/b:c'), { name: 'r.io:5000/a/b', tag: 'c', ref: 'r.io:5000/a/b:c' });
  assert.throws(() => parseTaggedReference(`hello@${D}`, 'target'), (err: unknown) =>
    err instanceof CunikError && err.field === 'target' && /digest cannot be used to name an image/.test(err.message));
  assert.throws(() => parseTaggedReference('f'.repeat(64)), /cannot be a 64-character hexadecimal string/);
});
