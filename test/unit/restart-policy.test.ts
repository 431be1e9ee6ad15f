import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRestartPolicy } from '../../src/cli/parse.js';
import { nextBackoff, restartsOnDaemonStart, shouldRestart } from '../../src/instances/restart.js';

test('restart policies parse like docker run --restart', () => {
  assert.deepEqual(parseRestartPolicy('no'), { name: 'no', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('always'), { name: 'always', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('unless-stopped'), { name: 'unless-stopped', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure'), { name: 'on-failure', maximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure:3'), { name: 'on-failure', maximumRetryCount: 3 });
  for (const bad of ['sometimes', 'always:2', 'on-failure:x', 'on-failure:1:2', '']) {
    assert.throws(() => parseRestartPolicy(bad), /invalid restart policy/, bad);
  }
});

test('which exits restart', () => {
  const cases: [string, number, number, boolean, boolean][] = [
    // policy, exit code, restarts so far, manually stopped, expected
    ['no', 1, 0, false, false],
    ['always', 0, 5, false, true],
    ['always', 1, 0, true, false],
    ['unless-stopped', 0, 0, false, true],
    ['unless-stopped', 0, 0, true, false],
    ['on-failure', 0, 0, false, false],
    ['on-failure', 2, 100, false, true],
    ['on-failure:2', 2, 1, false, true],
    ['on-failure:2', 2, 2, false, false],
    ['on-failure:2', 137, 0, true, false],
  ];
  for (const [policy, exitCode, restartCount, manuallyStopped, expected] of cases) {
    assert.equal(shouldRestart(parseRestartPolicy(policy), { exitCode, restartCount, manuallyStopped }), expected, `${policy} ${exitCode} ${restartCount} ${manuallyStopped}`);
  }
});

test('daemon start brings back always, and unless-stopped unless it was stopped by hand', () => {
  assert.equal(restartsOnDaemonStart(parseRestartPolicy('always'), true), true);
  assert.equal(restartsOnDaemonStart(parseRestartPolicy('unless-stopped'), false), true);
  assert.equal(restartsOnDaemonStart(parseRestartPolicy('unless-stopped'), true), false);
  assert.equal(restartsOnDaemonStart(parseRestartPolicy('on-failure'), false), false);
});

test('back-off doubles from 100 ms, caps at a minute, resets after 10 s up', () => {
  assert.equal(nextBackoff(undefined, 0), 100);
  assert.equal(nextBackoff(100, 50), 200);
  assert.equal(nextBackoff(400, 9_999), 800);
  assert.equal(nextBackoff(800, 10_000), 100);
  assert.equal(nextBackoff(40_000, 0), 60_000);
});
