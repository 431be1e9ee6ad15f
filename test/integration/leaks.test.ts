// Requests whose clients hang up must leave nothing behind in the daemon: 1,000 waits, and logs -f
// and attach sessions opened on an instance not started yet, all abandoned, then the daemon's
// pending waits, listeners, connections and heap are back where they were. And those whose
// instance is removed before it runs again end with it (the wait says why).
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { get } from 'node:http';
import { test } from 'node:test';
import type { DebugResources } from '../../src/daemon/routes/debug.js';
import { helloKernel, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';

function resources(d: TestDaemon): Promise<DebugResources> {
  d.client.close(); // its idle keep-alive connections are the test's, not a leak
  return new Promise((resolve, reject) => {
    get({ socketPath: d.socket, path: '/_debug/resources', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as DebugResources) : reject(new Error(`${res.statusCode}: ${body}`))));
    }).on('error', reject);
  });
}

/** Run `n` abandoned requests, `batch` at a time. */
async function abandon(n: number, batch: number, one: () => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, n - i) }, one));
}

test('1,000 waits, 100 logs -f and 100 attach sessions whose clients hang up leave nothing behind', async (t) => {
  const d = await startDaemon({ env: { CUNIK_DEBUG_RESOURCES: '1' } });
  try {
    await d.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
    const { id } = await d.client.createInstance({ image: 'hello', args: ['idle'], start: true });
    const { id: later } = await d.client.createInstance({ image: 'hello', args: ['idle'] }); // attached to before its start
    // Warm up every path once (code compiled, pools filled), then take the baseline.
    await abandon(20, 20, () => waitAbandoned(d, id));
    await abandon(20, 20, () => logsAbandoned(d, id)); // and the instance's console is watched from now on
    const released = (base: DebugResources): Promise<DebugResources> =>
      waitFor('the abandoned requests to be released', async () => {
        const r = await resources(d);
        return r.pendingWaits === base.pendingWaits && r.instanceListeners === base.instanceListeners && r.connections <= base.connections ? r : undefined;
      }, 30_000).catch(async (err: Error) => {
        throw new Error(`${err.message}: baseline ${JSON.stringify(base)}, now ${JSON.stringify(await resources(d))}`);
      });
    const base = await waitFor('the warm-up requests to be gone', async () => {
      const r = await resources(d);
      return r.pendingWaits === 0 ? r : undefined;
    });

    await abandon(1000, 50, () => waitAbandoned(d, id));
    await abandon(100, 20, () => logsAbandoned(d, id));
    const after = await released(base);
    const growth = after.heapUsedBytes - base.heapUsedBytes;
    t.diagnostic(`heap ${base.heapUsedBytes} -> ${after.heapUsedBytes} bytes after 1,100 abandoned requests`);
    // Each request kept would hold its closures, request and response objects (several KiB each).
    assert.ok(growth < 1024 * 1024, `heap grew by ${growth} bytes (baseline ${base.heapUsedBytes})`);

    await abandon(100, 20, async () => {
      const socket = await d.client.attach(later, { stdin: false });
      socket.destroy();
    });
    // Over a unix socket a client that went is a half-close, after which an attach session still
    // gets the output (Docker's semantics): the daemon learns of it at the first output it sends.
    // (Not compared for heap: a running instance holds its console watcher, QMP client and so on.)
    await d.client.startInstance(later);
    await released(base);
    // The instance itself is untouched, and a wait still works.
    const { exitCode } = await d.client.waitInstance(id, 'next-exit');
    await d.client.killInstance(id);
    assert.equal(typeof (await exitCode), 'number');
  } finally {
    await d.stop();
  }
});

test('waits, logs -f and attach sessions on an instance removed before it ran again end with it; nothing is left waiting', { timeout: 60_000 }, async () => {
  const d = await startDaemon({ env: { CUNIK_DEBUG_RESOURCES: '1' } });
  try {
    await d.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
    const { id: created } = await d.client.createInstance({ image: 'hello', args: ['idle'] });
    const { id: ended } = await d.client.createInstance({ image: 'hello', args: ['exit=0'] });
    const first = await d.client.waitInstance(ended, 'next-exit');
    await d.client.startInstance(ended);
    assert.equal(await first.exitCode, 0);
    const ends = (s: NodeJS.EventEmitter): Promise<void> => new Promise((r) => s.once('close', () => r()));
    const waits = [await d.client.waitInstance(created, 'next-exit'), await d.client.waitInstance(ended, 'next-exit')];
    const streams = [await d.client.logs(created, true), await d.client.attach(created, { stdin: false }), await d.client.attach(ended, { stdin: false })];
    for (const s of streams) s.resume();
    const closed = streams.map(ends);
    assert.equal((await resources(d)).pendingWaits, 5, 'two waits, and one per stream');
    await d.client.removeInstance(created);
    await d.client.removeInstance(ended);
    for (const w of waits) await assert.rejects(w.exitCode, /^Error: instance \S+ was removed before it exited$/);
    await Promise.all(closed);
    await waitFor('no wait left', async () => ((await resources(d)).pendingWaits === 0 || undefined));
  } finally {
    await d.stop();
  }
});

async function waitAbandoned(d: TestDaemon, id: string): Promise<void> {
  const gone = new AbortController();
  const { exitCode } = await d.client.waitInstance(id, 'next-exit', gone.signal);
  gone.abort();
  await exitCode.catch(() => undefined);
}

async function logsAbandoned(d: TestDaemon, id: string): Promise<void> {
  const res = await d.client.logs(id, true);
  res.destroy();
}
