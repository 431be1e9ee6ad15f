// Work that fails midway (a full disk; here a path that cannot be written) closes every file it
// opened and leaves no temp file: a descriptor the daemon kept on a deleted file kept its space
// until a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack } from 'tar-stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleFiles } from '../../src/instances/console-index.js';
import { cutLog } from '../../src/instances/console-rotate.js';
import { extractBootFiles } from '../../src/images/unpack.js';

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

test('extractBootFiles: a boot file that cannot be written (a full disk) closes the layer it was reading', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-unpack-'));
  try {
    // A layer larger than the stream buffers, with the kernel first: the read stays mid-file when writing fails.
    const tar = join(dir, 'layer.tar');
    const pack = tarPack();
    pack.entry({ name: 'cunik/kernel', size: 1 << 20 }, Buffer.alloc(1 << 20));
    pack.entry({ name: 'cunik/filler', size: 8 << 20 }, Buffer.alloc(8 << 20));
    pack.finalize();
    await pipeline(pack, createWriteStream(tar));
    const dest = join(dir, 'unpacked');
    mkdirSync(join(dest, 'kernel'), { recursive: true }); // writing cunik/kernel fails
    const before = openFds();
    await assert.rejects(extractBootFiles([{ path: tar, compression: 'none', diffId: `sha256:${'0'.repeat(64)}`, digest: `sha256:${'1'.repeat(64)}` }], dest));
    // A destroyed stream closes its descriptor asynchronously: wait for the count to come back.
    const deadline = Date.now() + 5000;
    while (openFds() > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(openFds(), before, 'the layer file is closed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
