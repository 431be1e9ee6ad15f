// The filesystem driver's append (an upload's data): batched writes while the next batch is
// received and write-back in the background must keep every byte in order, whatever the chunk
// sizes, and cut the file back to where it was when the source fails.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FsDriver } from '../../src/hub/storage/fs.js';
import { tempDir } from './images-fixtures.js';

const t = tempDir('cunik-hub-fs-');
after(() => t.cleanup());
const driver = new FsDriver(t.path);

async function* chunks(data: Buffer, sizes: number[], failAt?: number): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    if (failAt !== undefined && at >= failAt) throw new Error('client went away');
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    yield data.subarray(at, at + n);
    at += n;
  }
}

test('append: every byte in order across batches and background syncs, for tiny and large chunks; hashed as given', async () => {
  // 20 MiB crosses several 1 MiB batches and two 8 MiB write-backs; 1-byte chunks hit the chunk-count bound.
  const cases: [string, number, number[]][] = [
    ['large', 20 * 1024 * 1024 + 7, [65536, 1 << 20, 3 * (1 << 20), 17]],
    ['tiny', 5000, [1, 2, 3]],
    ['empty', 0, [1]],
  ];
  for (const [name, size, sizes] of cases) {
    const data = randomBytes(size);
    const hash = createHash('sha256');
    const n = await driver.append(`u/${name}`, 0, chunks(data, sizes), (c) => hash.update(c));
    assert.equal(n, size, name);
    assert.ok(readFileSync(join(t.path, 'u', name)).equals(data), `${name}: the file holds the bytes in order`);
    assert.equal(hash.digest('hex'), createHash('sha256').update(data).digest('hex'), name);
  }
});

test('append continues at the offset; a source failing mid-way leaves the file as it was', async () => {
  const first = randomBytes(3 * 1024 * 1024);
  assert.equal(await driver.append('u/resume', 0, chunks(first, [65536]), () => {}), first.length);
  const second = randomBytes(12 * 1024 * 1024);
  await assert.rejects(driver.append('u/resume', first.length, chunks(second, [65536], 10 * 1024 * 1024), () => {}), /client went away/);
  assert.ok(readFileSync(join(t.path, 'u', 'resume')).equals(first), 'cut back to the offset');
  assert.equal(await driver.append('u/resume', first.length, chunks(second, [100_000]), () => {}), first.length + second.length);
  assert.ok(readFileSync(join(t.path, 'u', 'resume')).equals(Buffer.concat([first, second])));
});

test('openCopy: a blob served through two reused buffers arrives whole and in order, ranges included, even to a slow reader; a reader gone mid-copy only fails the copy', async () => {
  const { Writable } = await import('node:stream');
  const data = randomBytes(3 * 256 * 1024 + 12345); // several reads of both buffers, the last one short
  await driver.write('blobs/sha256/copy', data);
  // A destination that copies what it is given only later, as a kernel's socket buffer is let go
  // of: a buffer reused before its write's callback would show up as wrong bytes here.
  const sink = (delayMs: number): { out: InstanceType<typeof Writable>; got: () => Buffer } => {
    const parts: Buffer[] = [];
    const out = new Writable({ highWaterMark: 0, write(c: Buffer, _e, cb) { setTimeout(() => { parts.push(Buffer.from(c)); cb(); }, delayMs); } });
    return { out, got: () => Buffer.concat(parts) };
  };
  for (const [range, want] of [[undefined, data], [{ start: 1000, end: 600_000 }, data.subarray(1000, 600_001)], [{ start: data.length - 1, end: data.length - 1 }, data.subarray(-1)]] as const) {
    const s = sink(2);
    await (await driver.openCopy('blobs/sha256/copy', range))!(s.out);
    assert.ok(s.got().equals(want), `range ${JSON.stringify(range)}`);
  }
  assert.equal(await driver.openCopy('blobs/sha256/absent'), undefined);
  // The reader goes away after the first write: the copy rejects (no unhandled rejection, no crash).
  const gone = new Writable({ write(_c, _e, cb) { setImmediate(() => { cb(new Error('reader gone')); }); } });
  gone.on('error', () => undefined);
  await assert.rejects((await driver.openCopy('blobs/sha256/copy'))!(gone));
  const closed = new Writable({ write() { closed.destroy(); } });
  await assert.rejects((await driver.openCopy('blobs/sha256/copy'))!(closed), /closed/);
});
