// The decompressors of image archives and layers: each kind round-trips, bad or truncated data
// errors the stream (never a clean short end), a missing tool is said in one line.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decompressor, sniffCompression, type Compression } from '../../src/util/decompress.js';

// Compressible and incompressible parts, over a MiB: several chunks through each pipe.
const plain = Buffer.concat([Buffer.alloc(600_000, 'tar'), randomBytes(700_000)]);
const packed: Record<Compression, Buffer> = {
  gzip: gzipSync(plain),
  zstd: execFileSync('zstd', ['-cq'], { input: plain, maxBuffer: 1 << 24 }),
  xz: execFileSync('xz', ['-c', '-0'], { input: plain, maxBuffer: 1 << 24 }),
  bzip2: execFileSync('bzip2', ['-c'], { input: plain, maxBuffer: 1 << 24 }),
};

const through = async (kind: Compression, input: Buffer): Promise<Buffer> => {
  const d = decompressor(kind);
  const out = buffer(d);
  await pipeline(Readable.from([input.subarray(0, 1000), input.subarray(1000)]), d).catch(() => { /* the output says */ });
  return out;
};

for (const kind of Object.keys(packed) as Compression[]) {
  test(`${kind}: sniffed by its magic, round-trips, and refuses corrupt and truncated data`, async () => {
    assert.equal(sniffCompression(packed[kind].subarray(0, 6)), kind);
    assert.ok((await through(kind, packed[kind])).equals(plain));
    await assert.rejects(through(kind, packed[kind].subarray(0, packed[kind].length - 200)), kind === 'gzip' ? /unexpected end|premature/i : /not valid/);
    const bad = Buffer.from(packed[kind]);
    bad.fill(0x55, 100, 4000);
    await assert.rejects(through(kind, bad), kind === 'gzip' ? /incorrect|invalid/i : new RegExp(`not valid ${kind} data`));
  });
}

test('plain data (a tar) is not taken for a compression', () => {
  assert.equal(sniffCompression(Buffer.from('ustar\0')), undefined);
  assert.equal(sniffCompression(Buffer.alloc(0)), undefined);
});

test('destroying a decompressor stops its child process', async () => {
  const d = decompressor('zstd');
  d.write(packed.zstd.subarray(0, 100));
  d.destroy();
  await new Promise((r) => d.on('close', r));
  assert.ok(d.destroyed);
});
