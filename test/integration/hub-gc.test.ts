// cunik hub gc while a hub serves the store: what tags reach stays, untagged manifests and the
// blobs only they named go, young content is never touched, and a push racing the sweep keeps
// every blob it was told was there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { collectGarbage } from '../../src/hub/gc.js';
import { Registry } from '../../src/hub/registry.js';
import { FsDriver } from '../../src/hub/storage/fs.js';
import { Uploads } from '../../src/hub/uploads.js';
import { hubBin, ociLayout, sha256, startHub, storeProblems } from '../helpers/hub.js';

const run = promisify(execFile);
const opts = { timeout: 300_000 };
const TLS = ['--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests'];

/** Make every file of the store look `ms` old (as if pushed that long ago). */
function age(root: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else utimesSync(p, t, t);
    }
  };
  walk(root);
}

const blobCount = (root: string): number => readdirSync(join(root, 'blobs', 'sha256')).filter((n) => !n.startsWith('.')).length;

test('gc: untagged manifests and their blobs go, tagged images (index entries, referrers) stay; --dry-run removes nothing', opts, async () => {
  const hub = await startHub();
  try {
    const keep = ociLayout(join(hub.dir, 'keep'), { tag: 'k', layerSizes: [5000] });
    const drop = ociLayout(join(hub.dir, 'drop'), { tag: 'd', layerSizes: [7000] });
    await run('skopeo', ['copy', '--quiet', ...TLS, `oci:${keep.dir}:k`, `docker://${hub.host}/gc/app:keep`]);
    await run('skopeo', ['copy', '--quiet', ...TLS, `oci:${drop.dir}:d`, `docker://${hub.host}/gc/app:drop`]);
    // An index naming `keep`, and a referrer of `keep`, both reached from tags.
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: keep.digest, size: keep.manifest.length }] }));
    assert.equal((await fetch(`${hub.url}/v2/gc/app/manifests/idx`, { method: 'PUT', body: new Uint8Array(index), headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } })).status, 201);
    const cfg = JSON.parse(keep.manifest.toString()).config;
    const sig = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/x-sig', config: cfg, layers: [], subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: keep.digest, size: keep.manifest.length } }));
    assert.equal((await fetch(`${hub.url}/v2/gc/app/manifests/${sha256(sig)}`, { method: 'PUT', body: new Uint8Array(sig), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201);
    assert.equal((await fetch(`${hub.url}/v2/gc/app/manifests/keep`, { method: 'DELETE' })).status, 202); // reached through idx
    assert.equal((await fetch(`${hub.url}/v2/gc/app/manifests/drop`, { method: 'DELETE' })).status, 202);
    const before = blobCount(hub.root);

    // Young: nothing goes, whatever the tags say.
    const young = await run(process.execPath, [hubBin, 'gc', '--root', hub.root]);
    assert.match(young.stdout, /removed 0 manifests, 0 blob links, 0 blobs/);
    age(hub.root, 2 * 3600_000);
    const dry = await run(process.execPath, [hubBin, 'gc', '--dry-run', '--root', hub.root]);
    assert.match(dry.stdout, new RegExp(`would remove manifest gc/app@${drop.digest}`));
    assert.match(dry.stdout, /would remove 1 manifests, 2 blob links, 3 blobs/); // drop's layer, its config, its manifest (2 of them linked as blobs)
    assert.equal(blobCount(hub.root), before);
    const real = await run(process.execPath, [hubBin, 'gc', '--root', hub.root]);
    assert.match(real.stdout, /removed 1 manifests, 2 blob links, 3 blobs/);
    assert.equal(blobCount(hub.root), before - 3);
    assert.equal((await fetch(`${hub.url}/v2/gc/app/manifests/${drop.digest}`, { method: 'HEAD' })).status, 404);
    // What idx reaches is whole, and the referrer is still listed.
    await run('skopeo', ['copy', '--quiet', ...TLS, `docker://${hub.host}/gc/app@${keep.digest}`, `oci:${join(hub.dir, 'back')}:k`]);
    const refs = (await (await fetch(`${hub.url}/v2/gc/app/referrers/${keep.digest}`)).json()) as { manifests: { digest: string }[] };
    assert.deepEqual(refs.manifests.map((m) => m.digest), [sha256(sig)]);
    assert.deepEqual(storeProblems(hub.root), []);
  } finally {
    await hub.stop();
  }
});

test('gc: a push racing the sweep never loses a blob (old layers reused by a new manifest)', opts, async () => {
  const hub = await startHub();
  const store = new FsDriver(hub.root);
  const registry = new Registry(store);
  const uploads = new Uploads(store, registry, 1 << 30);
  try {
    const src = ociLayout(join(hub.dir, 'race'), { tag: 'r', layerSizes: [200_000, 100_000] });
    await run('skopeo', ['copy', '--quiet', ...TLS, `oci:${src.dir}:r`, `docker://${hub.host}/race/app:seed`]);
    let sweeps = 0;
    for (let round = 0; round < 4; round++) {
      // Every tag gone and everything old: the next sweep would take all of it...
      const tags = (await (await fetch(`${hub.url}/v2/race/app/tags/list`)).json()) as { tags: string[] };
      for (const t of tags.tags) await fetch(`${hub.url}/v2/race/app/manifests/${t}`, { method: 'DELETE' });
      age(hub.root, 2 * 3600_000);
      // ...while skopeo pushes a manifest naming those layers again (it finds them by HEAD).
      let done = false;
      const loop = (async () => {
        while (!done) {
          const t0 = Date.now();
          const r = await collectGarbage(store, registry, uploads, { graceMs: 3600_000, uploadTimeoutMs: 3600_000 });
          if (process.env['CUNIK_HUB_TRACE'] === '1') console.error(`gc ${t0}-${Date.now()} ${JSON.stringify(r)}`);
          sweeps++;
        }
      })();
      try {
        await run('skopeo', ['copy', '--quiet', ...TLS, `oci:${src.dir}:r`, `docker://${hub.host}/race/app:r${round}`]);
      } finally {
        done = true;
        await loop;
      }
      await collectGarbage(store, registry, uploads, { graceMs: 3600_000, uploadTimeoutMs: 3600_000 });
      assert.deepEqual(storeProblems(hub.root), [], `round ${round}`);
      await run('skopeo', ['copy', '--quiet', ...TLS, `docker://${hub.host}/race/app:r${round}`, `oci:${join(hub.dir, `back${round}`)}:x`]);
    }
    assert.ok(sweeps >= 4, `only ${sweeps} sweeps ran during the pushes`);
  } finally {
    await hub.stop();
  }
});

test('gc: one at a time per store; a lock left by a killed gc is taken over', async () => {
  const hub = await startHub();
  try {
    const store = new FsDriver(hub.root);
    const registry = new Registry(store);
    const uploads = new Uploads(store, registry, 1 << 30);
    const o = { graceMs: 0, uploadTimeoutMs: 3600_000 };
    const results = await Promise.allSettled([collectGarbage(store, registry, uploads, o), collectGarbage(store, registry, uploads, o)]);
    assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
    assert.match(String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), /another garbage collection is running/);
    writeFileSync(join(hub.root, 'gc.lock'), '999999999\n'); // no such process
    await collectGarbage(store, registry, uploads, o);
    assert.ok(!existsSync(join(hub.root, 'gc.lock')));
    writeFileSync(join(hub.root, 'gc.lock'), `${hub.proc.pid}\n`); // alive
    const busy = await run(process.execPath, [hubBin, 'gc', '--root', hub.root]).then(() => 'ran', (e: { stderr: string; code: number }) => `${e.code} ${e.stderr}`);
    assert.equal(busy, '1 cunik-hub: another garbage collection is running on this store\n');
  } finally {
    await hub.stop();
  }
});
