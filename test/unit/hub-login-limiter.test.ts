import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginLimiter } from '../../src/hub/auth/limiter.js';

test('login limiter: per address+user and per address, within a window; success clears its own count', () => {
  let t = 1_000_000;
  const l = new LoginLimiter({ perUser: { max: 3, windowMs: 10_000 }, perAddress: { max: 5, windowMs: 10_000 } }, () => t);
  for (let i = 0; i < 3; i++) {
    assert.equal(l.retryAfter('1.1.1.1', 'a'), 0);
    l.failed('1.1.1.1', 'a');
  }
  assert.equal(l.retryAfter('1.1.1.1', 'a'), 10, 'blocked for the rest of the window');
  assert.equal(l.retryAfter('2.2.2.2', 'a'), 0, 'another address is not');
  assert.equal(l.retryAfter('1.1.1.1', 'b'), 0, 'another user from it is not (yet)');
  t += 4_000;
  assert.equal(l.retryAfter('1.1.1.1', 'a'), 6);
  l.failed('1.1.1.1', 'b');
  l.failed('1.1.1.1', 'c');
  assert.equal(l.retryAfter('1.1.1.1', 'd'), 6, 'five failures from the address block every user');
  t += 6_000;
  assert.equal(l.retryAfter('1.1.1.1', 'a'), 0, 'the window ended');
  assert.equal(l.retryAfter('1.1.1.1', 'd'), 0);
  l.failed('1.1.1.1', 'e');
  l.failed('1.1.1.1', 'e');
  l.succeeded('1.1.1.1', 'e');
  l.failed('1.1.1.1', 'e');
  l.failed('1.1.1.1', 'e');
  assert.equal(l.retryAfter('1.1.1.1', 'e'), 0, 'the success started the count again');
});

test('login limiter attempt(): refused unchecked over the limit, counted otherwise', async () => {
  const l = new LoginLimiter({ perUser: { max: 2, windowMs: 10_000 }, perAddress: { max: 9, windowMs: 10_000 } }, () => 0);
  let checks = 0;
  const check = (ok: boolean) => async () => (checks++, ok);
  assert.deepEqual(await l.attempt('1.1.1.1', 'a', check(false)), { ok: false });
  assert.deepEqual(await l.attempt('1.1.1.1', 'a', check(false)), { ok: false });
  assert.deepEqual(await l.attempt('1.1.1.1', 'a', check(true)), { retryAfter: 10 });
  assert.equal(checks, 2, 'the refused attempt ran no check');
  assert.deepEqual(await l.attempt('1.1.1.1', 'b', check(true)), { ok: true });
});
