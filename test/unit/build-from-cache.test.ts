// The `from:` archive's digest as the build cache remembers it (build/linux/from-cache.ts): by the
// file's identity, across daemon restarts (a new BuildCache on the same root), and never stale: a
// rewrite of the same size with its mtime set back still changes the ctime, so it is hashed again.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BuildCache } from '../../src/build/cache.js';
import { cachedFileDigest } from '../../src/build/linux/from-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'cunik-from-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sha = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

test('an archive\'s digest is remembered while the file is the same, and taken again when it is rewritten', async () => {
  const file = join(dir, 'image.tar');
  writeFileSync(file, 'first');
  const cache = new BuildCache(join(dir, 'root'));
  assert.equal(await cachedFileDigest(cache, file), sha('first'));
  const entries = (await cache.list()).length;
  assert.equal(entries, 1);
  // A restarted daemon: the entry is found, no new one is made.
  const again = new BuildCache(join(dir, 'root'));
  assert.equal(await cachedFileDigest(again, file), sha('first'));
  assert.equal((await again.list()).length, entries);
  // Same size, mtime set back: the ctime still moves.
  const st = statSync(file);
  writeFileSync(file, 'other');
  utimesSync(file, st.atime, st.mtime);
  assert.equal(await cachedFileDigest(again, file), sha('other'));
  assert.equal((await again.list()).length, entries + 1);
});
