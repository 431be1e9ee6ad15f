// A blob of a pull from a small registry on 127.0.0.1 that misbehaves in the ways a resume must
// survive: a cut mid-body, a resumed rest that does not match, a range other than the one asked.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Staging } from '../../src/images/blobs.js';
import { downloadBlob } from '../../src/images/blob-download.js';
import { eachLimited } from '../../src/images/distribution.js';
import { RegistryClient } from '../../src/images/registry.js';
import { tempDir } from './images-fixtures.js';

const t = tempDir('cunik-blobdl-');
after(() => t.cleanup());
const bytes = randomBytes(3 * 1024 * 1024 + 17);
const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const d = { mediaType: 'application/octet-stream', digest, size: bytes.length };

/** A registry whose n-th answer to the blob GET (0-based) is `answer(n, req, res)`. */
async function registry(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  let n = 0;
  const ranges: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    ranges.push(req.headers.range);
    answer(n++, req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    client: new RegistryClient(host, 'a/b'), ranges,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const half = bytes.length >> 1;
const cut = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-length': bytes.length });
  res.write(bytes.subarray(0, half), () => res.destroy());
};
const from = (req: IncomingMessage): number => Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')![1]);
const partial = (res: ServerResponse, start: number, body: Buffer): void => {
  res.writeHead(206, { 'content-length': body.length, 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` });
  res.end(body);
};

async function fetchInto(client: RegistryClient) {
  const staging = await Staging.create(t.path, 'pull');
  const stats = { resumed: 0, restarted: 0 };
  try {
    const got = await downloadBlob(staging, client, d, `blob ${digest}`, undefined, stats);
    assert.deepEqual(got, { digest, size: bytes.length });
    assert.deepEqual(readFileSync(staging.blobPath(digest)!), bytes);
    assert.deepEqual(readdirSync(staging.dir).sort(), ['blobs', 'unpacked'], 'no scratch file left');
    return stats;
  } finally {
    staging.dispose();
  }
}

test('a cut mid-blob resumes from the bytes staged when the registry answers 206', async () => {
  const r = await registry((n, req, res) => (n === 0 ? cut(res) : partial(res, from(req), bytes.subarray(from(req)))));
  try {
    assert.deepEqual(await fetchInto(r.client), { resumed: 1, restarted: 0 });
    assert.equal(r.ranges[0], undefined);
    assert.ok(from({ headers: { range: r.ranges[1] } } as IncomingMessage) > 0);
  } finally {
    await r.stop();
  }
});

test('a resumed rest that does not verify: the blob is fetched once more whole', async () => {
  const r = await registry((n, req, res) => {
    if (n === 0) return cut(res);
    if (n === 1) return partial(res, from(req), Buffer.alloc(bytes.length - from(req), 7)); // other bytes
    res.end(bytes);
  });
  try {
    assert.deepEqual(await fetchInto(r.client), { resumed: 1, restarted: 1 });
    assert.equal(r.ranges[2], undefined, 'the last request asks for the whole blob');
  } finally {
    await r.stop();
  }
});

test('a registry answering 200 (no ranges) or another range to a Range: the file starts over', async () => {
  for (const wrong of ['whole', 'range'] as const) {
    const r = await registry((n, _req, res) => {
      if (n === 0) return cut(res);
      if (n === 1 && wrong === 'range') return partial(res, 5, bytes.subarray(5));
      res.end(bytes);
    });
    try {
      assert.deepEqual(await fetchInto(r.client), { resumed: 0, restarted: 1 }, wrong);
    } finally {
      await r.stop();
    }
  }
});

test('a blob longer than its descriptor is refused without retries; nothing is left', async () => {
  const r = await registry((_n, _req, res) => res.end(Buffer.concat([bytes, Buffer.from('x')])));
  const staging = await Staging.create(t.path, 'pull');
  try {
    await assert.rejects(downloadBlob(staging, r.client, d, `blob ${digest}`), /is larger than its descriptor's \d+ bytes/);
    assert.equal(r.ranges.length, 1);
    assert.deepEqual(readdirSync(staging.dir).sort(), ['blobs', 'unpacked']);
  } finally {
    staging.dispose();
    await r.stop();
  }
});

test('eachLimited runs at most `limit` at once and throws the first failure after the started ones end', async () => {
  let running = 0;
  let peak = 0;
  const done: number[] = [];
  await assert.rejects(eachLimited([1, 2, 3, 4, 5, 6], 3, async (x) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setImmediate(r));
    running--;
    if (x === 2) throw new Error('two failed');
    done.push(x);
  }), /two failed/);
  assert.equal(peak, 3);
  assert.equal(running, 0, 'nothing still running when it throws');
  assert.ok(!done.includes(6), 'no new item started after the failure');
});
