// Many clients at once on the same instances, and a daemon killed at random moments: the store,
// the processes and the API must still agree.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { test } from 'node:test';
import { inconsistencies } from '../helpers/consistency.js';
import { helloKernel, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

async function apiStates(d: TestDaemon): Promise<Map<string, string>> {
  return new Map((await d.client.listInstances(true)).map((i) => [i.id, i.state]));
}

async function settledConsistency(d: TestDaemon): Promise<string[]> {
  // Exits in flight settle within a moment; a real inconsistency does not go away.
  let problems: string[] = [];
  for (let i = 0; i < 20; i++) {
    problems = inconsistencies(d.root, await apiStates(d));
    if (problems.length === 0) return problems;
    await new Promise((r) => setTimeout(r, 100));
  }
  return problems;
}

test('50 parallel runs mixed with stop, kill and rm -f on the same instances', async () => {
  const d = await startDaemon();
  try {
    await d.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
    // Not hex: a name gone by the time of its stop/kill/rm is then looked up as an id prefix, and
    // c4 can match two of the 50 ids ("ambiguous instance id prefix", seen in CI).
    const names = Array.from({ length: 50 }, (_, i) => `n${i}`);
    const ops = names.flatMap((name, i) => [
      // Half as `create` + `start`, half as `run -d` does it (one request).
      i % 2 === 0
        ? (async () => {
            const { id } = await d.client.createInstance({ image: 'hello', name, args: ['idle'] });
            await d.client.startInstance(id);
          })()
        : d.client.createInstance({ image: 'hello', name, args: ['idle'], start: true }),
      // The same name again: exactly one create may win.
      d.client.createInstance({ image: 'hello', name, args: ['idle'] }),
      new Promise((r) => setTimeout(r, i * 7)).then(() => [() => d.client.stopInstance(name, 0), () => d.client.killInstance(name), () => d.client.removeInstance(name, true)][i % 3]!()),
    ]);
    const results = await Promise.allSettled(ops);
    const created = results.filter((r, i) => i % 3 !== 2 && r.status === 'fulfilled').length;
    assert.ok(created >= 1, 'some creations succeeded');
    for (const r of results) {
      if (r.status === 'rejected') assert.match(String((r.reason as Error).message), /already in use|no such instance|not running|being removed/, 'only the expected conflicts');
    }
    assert.deepEqual(await settledConsistency(d), []);
    const listed = await d.client.listInstances(true);
    assert.equal(new Set(listed.map((i) => i.name)).size, listed.length, 'no name reserved twice');
    await Promise.all(listed.map((i) => d.client.removeInstance(i.id, true)));
    assert.deepEqual(await settledConsistency(d), []);
  } finally {
    await d.stop();
  }
});

test('SIGKILL of the daemon at random points of create/start/stop/rm, 30 times', async () => {
  let d = await startDaemon();
  try {
    await d.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
    for (let round = 0; round < 30; round++) {
      const existing = await d.client.listInstances(true);
      const ops: Promise<unknown>[] = [];
      for (let k = 0; k < 2; k++) ops.push(d.client.createInstance({ image: 'hello', args: ['idle'] }).then(({ id }) => d.client.startInstance(id)));
      ops.push(d.client.createInstance({ image: 'hello', args: ['idle'], start: true })); // as run -d
      for (const i of existing.slice(0, 4)) {
        ops.push([() => d.client.stopInstance(i.id, 0), () => d.client.removeInstance(i.id, true), () => d.client.startInstance(i.id)][round % 3]!());
      }
      void Promise.allSettled(ops);
      await new Promise((r) => setTimeout(r, Math.random() * 60));
      const gone = new Promise((r) => d.proc.once('exit', r));
      d.proc.kill('SIGKILL');
      await gone;
      d.client.close();
      d = await startDaemon({ dir: d.dir });
      const problems = await settledConsistency(d);
      assert.deepEqual(problems, [], `round ${round}`);
      // Keep the population bounded.
      const all = await d.client.listInstances(true);
      if (all.length > 8) await Promise.all(all.slice(8).map((i) => d.client.removeInstance(i.id, true)));
    }
    await waitFor('clean', async () => ((await settledConsistency(d)).length === 0 ? true : undefined));
  } finally {
    await d.stop();
  }
});
