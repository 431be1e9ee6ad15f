// A file error is said as the path and a few words, whichever verb met it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { errorMessage } from '../../src/cli/util.js';
import { fsReason } from '../../src/util/fs-reason.js';

test('fsReason: the errno codes a user meets, in words; anything else keeps its message', async () => {
  const missing = await readFile('/nonexistent/cunik').catch((e: unknown) => e);
  const directory = await readFile('/').catch((e: unknown) => e);
  assert.equal(fsReason(missing), 'no such file or directory');
  assert.equal(fsReason(directory), 'it is a directory');
  assert.equal(fsReason(Object.assign(new Error('x'), { code: 'ENOSPC' })), 'no space left on the device');
  assert.equal(fsReason(new Error('something else')), 'something else');
  assert.equal(fsReason('plain'), 'plain');
  // The CLI's last resort for an error no verb worded: the path and why, not "ENOENT: ..., open '...'".
  assert.equal(errorMessage(missing), '/nonexistent/cunik: no such file or directory');
  assert.equal(errorMessage(new Error('cannot do that')), 'cannot do that');
});
