// Waiting for QEMU's QMP socket to appear: woken by the creation itself, not by polling.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { appeared } from '../../src/vmm/qemu/appear.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-appear-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a waiter wakes when its file is created (a plain file or a listening unix socket), long before its timeout', async () => {
  const file = join(dir, 'a.qmp');
  setTimeout(() => writeFileSync(file, ''), 200);
  let t0 = performance.now();
  await appeared(file, 10_000);
  assert.ok(performance.now() - t0 < 2000, `woke after ${performance.now() - t0} ms`);

  const sock = join(dir, 'b.qmp');
  const server = createServer();
  setTimeout(() => server.listen(sock), 200);
  t0 = performance.now();
  // Two waiters on the same directory share one watch; both wake.
  await Promise.all([appeared(sock, 10_000), appeared(sock, 10_000)]);
  assert.ok(performance.now() - t0 < 2000, `woke after ${performance.now() - t0} ms`);
  server.close();
});

test('a file that is already there, or never comes, or a missing directory: no hang', async () => {
  const file = join(dir, 'c.qmp');
  writeFileSync(file, '');
  await appeared(file, 10_000); // at once
  const t0 = performance.now();
  await appeared(join(dir, 'never.qmp'), 150);
  assert.ok(performance.now() - t0 >= 140);
  await appeared(join(dir, 'no-such-dir', 'x.qmp'), 50);
});

test('an abort rejects the wait', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error('VM exited')), 50);
  await assert.rejects(appeared(join(dir, 'd.qmp'), 10_000, ac.signal), /VM exited/);
});
