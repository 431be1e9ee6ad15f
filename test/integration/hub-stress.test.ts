// CunikHub under load and crashes: 1,000 concurrent uploads of one blob, and a hub killed with
// SIGKILL in the middle of pushes, restarted on the same store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ociLayout, sha256, startHub, storeProblems } from '../helpers/hub.js';

const run = promisify(execFile);
const opts = { timeout: 300_000 };
const TLS = ['--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests'];

test('1,000 concurrent uploads of the same blob: all succeed, stored once, nothing left behind', opts, async () => {
  const hub = await startHub();
  try {
    const data = randomBytes(64 * 1024);
    const digest = sha256(data);
    const body = new Uint8Array(data);
    const one = async (i: number): Promise<number> => {
      const name = `load/r${i % 10}`;
      if (i % 2 === 0) {
        const r = await fetch(`${hub.url}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
        await r.body?.cancel();
        return r.status;
      }
      const s = await fetch(`${hub.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
      await s.body?.cancel();
      const p = await fetch(`${hub.url}${s.headers.get('location')}`, { method: 'PATCH', body, headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${data.length - 1}` } });
      await p.body?.cancel();
      const r = await fetch(`${hub.url}${s.headers.get('location')}?digest=${digest}`, { method: 'PUT' });
      await r.body?.cancel();
      return r.status;
    };
    const statuses: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      statuses.push(...(await Promise.all(Array.from({ length: 100 }, (_, j) => one(batch * 100 + j)))));
    }
    assert.equal(statuses.length, 1000);
    assert.deepEqual([...new Set(statuses)], [201]);
    assert.deepEqual(readdirSync(join(hub.root, 'blobs', 'sha256')), [digest.slice(7)]);
    assert.deepEqual(readdirSync(join(hub.root, 'uploads')), []);
    for (let r = 0; r < 10; r++) {
      const g = await fetch(`${hub.url}/v2/load/r${r}/blobs/${digest}`);
      assert.deepEqual(Buffer.from(await g.arrayBuffer()), data);
    }
    assert.deepEqual(storeProblems(hub.root), []);
  } finally {
    await hub.stop();
  }
});

test('a hub killed with SIGKILL mid-push restarts with a consistent store and serves what was pushed', opts, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cunik-hub-kill-'));
  const root = join(dir, 'root');
  try {
    const layouts = Array.from({ length: 3 }, (_, i) => ociLayout(join(dir, `src${i}`), { tag: 'v', layerSizes: [3_000_000, 1_000_000, 20_000] }));
    for (const [round, delayMs] of [[0, 150], [1, 400], [2, 800], [3, 1500]] as const) {
      const hub = await startHub({ root, dir });
      const pushes = layouts.map((l, i) =>
        run('skopeo', ['copy', '--quiet', ...TLS, `oci:${l.dir}:v`, `docker://${hub.host}/crash/img${i}:r${round}`]).then(() => true, () => false));
      // A chunked upload left half-done as well.
      const s = await fetch(`${hub.url}/v2/crash/chunks/blobs/uploads/`, { method: 'POST' });
      await fetch(`${hub.url}${s.headers.get('location')}`, { method: 'PATCH', body: new Uint8Array(randomBytes(100_000)), headers: { 'content-type': 'application/octet-stream' } }).then((r) => r.body?.cancel());
      await new Promise((r) => setTimeout(r, delayMs));
      await hub.stop({ keepFiles: true, signal: 'SIGKILL' });
      await Promise.all(pushes);
      assert.deepEqual(storeProblems(root), [], `after SIGKILL at ${delayMs} ms`);
      const again = await startHub({ root, dir });
      try {
        // Every tag that exists is pullable, whole.
        for (let i = 0; i < layouts.length; i++) {
          const tags = await fetch(`${again.url}/v2/crash/img${i}/tags/list`);
          if (tags.status === 404) continue;
          for (const t of ((await tags.json()) as { tags: string[] }).tags) {
            await run('skopeo', ['copy', '--quiet', ...TLS, `docker://${again.host}/crash/img${i}:${t}`, `oci:${join(dir, `back-${round}-${i}`)}:${t}`]);
          }
        }
        // And pushing again completes.
        await run('skopeo', ['copy', '--quiet', ...TLS, `oci:${layouts[0]!.dir}:v`, `docker://${again.host}/crash/img0:after${round}`]);
        const m = await fetch(`${again.url}/v2/crash/img0/manifests/after${round}`, { method: 'HEAD' });
        assert.equal(m.headers.get('docker-content-digest'), layouts[0]!.digest);
      } finally {
        await again.stop({ keepFiles: true });
      }
      assert.deepEqual(storeProblems(root), []);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
