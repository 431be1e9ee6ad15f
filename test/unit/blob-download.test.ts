// A blob of a pull from a small registry on 127.0.0.1 that misbehaves in the ways a resume must
// survive: a cut mid-body, a resumed rest that does not match, a range other than the one asked.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Staging } from '../../src/images/blobs.js';
import { downloadBlob } from '../../src/images/blob-download.js';
import { eachLimited } from '../../src/images/distribution.js';
import { PARTIAL_TTL_MS, PartialBlobs } from '../../src/images/partial.js';
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
    const got = await downloadBlob(staging, client, d, `blob ${digest}`, { stats });
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

// ---- across pulls: the store's partial folder (partial.ts) ----

const hexOf = digest.slice(7);
const partialIn = (name: string): PartialBlobs => new PartialBlobs(join(t.path, `partial-${name}`));
const keptFiles = (p: PartialBlobs): string[] => (existsSync(p.dir) ? readdirSync(p.dir).sort() : []);
const giveUp = (res: ServerResponse): void => cut(res); // every answer cut halfway through

async function download(client: RegistryClient, p: PartialBlobs, signal?: AbortSignal, onBytes?: (n: number) => void) {
  const staging = await Staging.create(t.path, 'pull');
  const stats = { resumed: 0, restarted: 0 };
  try {
    const got = await downloadBlob(staging, client, d, `blob ${digest}`, { stats, partial: p, ...(signal && { signal }), ...(onBytes && { onBytes }) });
    assert.deepEqual(readFileSync(staging.blobPath(digest)!), bytes);
    return { got, stats };
  } finally {
    assert.deepEqual(readdirSync(staging.dir).filter((f) => f !== 'blobs' && f !== 'unpacked'), [], 'no scratch file in the staging area');
    staging.dispose();
  }
}

test('a download given up on keeps its bytes; the next pull hashes them again and asks for the rest (206)', async () => {
  const p = partialIn('resume');
  const first = await registry((_n, _req, res) => giveUp(res));
  try {
    await assert.rejects(download(first.client, p), /the download failed after it started .*the bytes so far are kept: the next pull resumes them/);
  } finally {
    await first.stop();
  }
  assert.deepEqual(keptFiles(p), [hexOf], 'one file kept, named by the digest');
  const kept = statSync(join(p.dir, hexOf)).size;
  assert.ok(kept >= half && kept < bytes.length, `${kept} bytes kept`);
  const next = await registry((_n, req, res) => partial(res, from(req), bytes.subarray(from(req))));
  try {
    const { stats } = await download(next.client, p);
    assert.deepEqual(stats, { resumed: 1, restarted: 0 });
    assert.deepEqual(next.ranges, [`bytes=${kept}-`], 'only the rest was asked for');
    assert.deepEqual(keptFiles(p), [], 'nothing kept once the blob is whole');
  } finally {
    await next.stop();
  }
});

test('kept bytes with a registry that ignores Range (200), or kept bytes that are wrong: a clean restart, the right blob', async () => {
  for (const how of ['ignores-range', 'corrupt-kept'] as const) {
    const p = partialIn(how);
    mkdirSync(p.dir, { recursive: true });
    const keptBytes = Buffer.from(bytes.subarray(0, half));
    if (how === 'corrupt-kept') keptBytes[10] = keptBytes[10]! ^ 0xff;
    writeFileSync(join(p.dir, hexOf), keptBytes);
    const r = await registry((_n, req, res) => (how === 'ignores-range' || req.headers.range === undefined ? res.end(bytes) : partial(res, from(req), bytes.subarray(from(req)))));
    try {
      const { stats } = await download(r.client, p);
      assert.deepEqual(stats, how === 'ignores-range' ? { resumed: 0, restarted: 1 } : { resumed: 1, restarted: 1 }, how);
      assert.deepEqual(r.ranges, how === 'ignores-range' ? [`bytes=${half}-`] : [`bytes=${half}-`, undefined], how);
      assert.deepEqual(keptFiles(p), []);
    } finally {
      await r.stop();
    }
  }
});

test('a cancelled download (its client went away) keeps its bytes; kept files expire, are bounded by the size, and go on prune', async () => {
  const p = partialIn('cancel');
  const ac = new AbortController();
  // The registry sends half and then waits: the pull is cancelled while the body is open.
  const r = await registry((_n, _req, res) => {
    res.writeHead(200, { 'content-length': bytes.length });
    res.write(bytes.subarray(0, half));
  });
  try {
    await assert.rejects(download(r.client, p, ac.signal, (got) => void (got >= half && ac.abort())), /the pull was cancelled after \d+ bytes \(they are kept/);
  } finally {
    await r.stop();
  }
  assert.deepEqual(keptFiles(p), [hexOf]);
  // Expired (last written longer ago than the TTL): removed when the next download starts, which asks for everything.
  let now = Date.now();
  const later = new PartialBlobs(p.dir, PARTIAL_TTL_MS, () => now + PARTIAL_TTL_MS + 1000);
  const whole = await registry((_n, _req, res) => res.end(bytes));
  try {
    await download(whole.client, later);
    assert.deepEqual(whole.ranges, [undefined]);
    // Longer than the blob: not its bytes, never resumed.
    writeFileSync(join(p.dir, hexOf), Buffer.concat([bytes, Buffer.from('x')]));
    await download(whole.client, p);
    assert.deepEqual(whole.ranges, [undefined, undefined]);
  } finally {
    await whole.stop();
  }
  writeFileSync(join(p.dir, hexOf), bytes.subarray(0, 100));
  writeFileSync(join(p.dir, 'junk'), 'x');
  now = Date.now();
  assert.equal(p.prune(), 101);
  assert.deepEqual(keptFiles(p), []);
});

test('the store opening after a killed pull: the file being written becomes the kept one (the longer wins); junk and expired files go', () => {
  const p = partialIn('sweep');
  mkdirSync(p.dir, { recursive: true });
  const other = 'b'.repeat(64);
  writeFileSync(join(p.dir, `${hexOf}-0123456789abcdef.part`), bytes.subarray(0, 300));
  writeFileSync(join(p.dir, hexOf), bytes.subarray(0, 200));
  writeFileSync(join(p.dir, `${other}-0123456789abcdef.part`), 'ab');
  writeFileSync(join(p.dir, `${other}-fedcba9876543210.part`), 'abc');
  writeFileSync(join(p.dir, 'c'.repeat(64)), 'old');
  utimesSync(join(p.dir, 'c'.repeat(64)), new Date(Date.now() - PARTIAL_TTL_MS - 60_000), new Date(Date.now() - PARTIAL_TTL_MS - 60_000));
  writeFileSync(join(p.dir, 'stray.tmp'), 'x');
  p.sweep();
  assert.deepEqual(keptFiles(p), [hexOf, other].sort());
  assert.equal(statSync(join(p.dir, hexOf)).size, 300);
  assert.equal(readFileSync(join(p.dir, other), 'utf8'), 'abc');
});
