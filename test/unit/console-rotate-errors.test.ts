// A rotation that fails midway (a full disk, here a temp path that cannot be opened) closes
// every file it opened and leaves no temp file: a console.log held open by the daemon after a
// failed rotation kept its space until a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleFiles } from '../../src/instances/console-index.js';
import { cutLog } from '../../src/instances/console-rotate.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

test('cutLog: when the backup temp file cannot be made, the console log is closed again and nothing is left', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-rotate-'));
  try {
    const files = consoleFiles(join(dir, 'console.log'));
    writeFileSync(files.log, 'line\n'.repeat(2000));
    mkdirSync(`${files.backup}.tmp`); // open(..., 'w+') fails with EISDIR, as a full disk fails it with ENOSPC
    const before = openFds();
    for (const rotation of ['truncate', 'auto'] as const) {
      await assert.rejects(cutLog(files, statSync(files.log), { maxSize: 1024, rotation, noCollapse: new Set([statSync(dir).dev]) }), /EISDIR/);
    }
    assert.equal(openFds(), before, 'no descriptor left open');
    rmSync(`${files.backup}.tmp`, { recursive: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
