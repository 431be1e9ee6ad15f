// A push that mounts blobs across repositories of a hub with token auth: the client asks for pull
// on the source repository with its push scope (as Docker does), and a user who may not pull the
// source gets a plain upload instead of a failed push.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashSync } from '@node-rs/bcrypt';
import { push } from '../../src/images/distribution.js';
import { ImageStore } from '../../src/images/store.js';
import { helloKernel } from '../helpers/daemon.js';
import { startHub, storeProblems, type TestHub } from '../helpers/hub.js';

let dir: string;
let hub: TestHub;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cunik-mount-auth-'));
  writeFileSync(join(dir, 'htpasswd'), `alice:${hashSync('wonderland', 4)}\ncarol:${hashSync('secret', 4)}\n`);
  hub = await startHub({
    dir,
    config: `auth:\n  htpasswd: ${join(dir, 'htpasswd')}\n  access:\n`
      + '    - {user: alice, repository: "**", actions: [pull, push]}\n'
      + '    - {user: carol, repository: "carol/**", actions: [pull, push]}\n',
  });
});

after(async () => {
  await hub?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('push mounts from another repository when the user may pull it, uploads when not', { timeout: 60_000 }, async () => {
  const store = new ImageStore(join(dir, 'client'), { knownFamilies: ['generic'] });
  const first = `${hub.host}/team/one:1`;
  await store.importKernel(helloKernel, first, { family: 'generic', args: ['exit=0'], memoryMiB: 32 });
  const alice = { username: 'alice', password: 'wonderland' };
  const r1 = await push(store, first, { credentials: alice });
  assert.equal(r1.mounted, 0);

  // Same content under a second name of the same hub: every blob is mounted from team/one.
  await store.tag(first, `${hub.host}/team/two:1`);
  const r2 = await push(store, `${hub.host}/team/two:1`, { credentials: alice });
  assert.equal(r2.digest, r1.digest);
  assert.ok(r2.mounted > 0, `mounted ${r2.mounted}, uploaded ${r2.uploaded}`);
  assert.equal(r2.uploaded, 0);

  // carol may not pull team/one: the mount is not granted, the blobs are uploaded, the push succeeds.
  await store.tag(first, `${hub.host}/carol/app:1`);
  const r3 = await push(store, `${hub.host}/carol/app:1`, { credentials: { username: 'carol', password: 'secret' } });
  assert.equal(r3.digest, r1.digest);
  assert.equal(r3.mounted, 0);
  assert.ok(r3.uploaded > 0);
  assert.deepEqual(storeProblems(hub.root), []);
});
