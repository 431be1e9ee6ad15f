// A full disk loses nothing and leaks nothing: the daemon's root is a small tmpfs made for the
// test, so ENOSPC is real. A start that fails is Created with the error (never "Exited (0)"); a
// load that fails frees its upload at once (nothing held open); uploads a killed daemon left are
// swept at the next start, and counted by system df meanwhile.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { extract as tarExtract, pack as tarPack } from 'tar-stream';
import { cli, helloKernel, killInstances, startDaemon, waitFor, waitGone, type TestDaemon } from '../helpers/daemon.js';

const MiB = 1 << 20;
let base: string;
let mnt: string;
let d: TestDaemon;
const run = (args: string[]) => cli(args, { socket: d.socket });
const free = (): number => {
  const s = statfsSync(mnt);
  return s.bavail * s.bsize;
};
/** Fill the file system until `leave` bytes are free (a file the test removes again). */
const fill = (leave: number): void => {
  const size = Math.max(0, free() - leave);
  writeFileSync(join(mnt, 'filler'), Buffer.alloc(size));
};
const unfill = (): void => rmSync(join(mnt, 'filler'), { force: true });
const heldDeleted = (pid: number): string[] =>
  readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      return target.endsWith('(deleted)') && target.startsWith(mnt) ? [target] : [];
    } catch {
      return [];
    }
  });

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'cunik-full-'));
  mnt = join(base, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'tmpfs', mnt]);
  d = await startDaemon({ dir: mnt });
  const imported = await run(['import', '--family', 'generic', helloKernel, 'hello']);
  assert.equal(imported.code, 0, imported.stderr);
  const saved = await run(['save', '-o', join(base, 'hello.tar'), 'hello']);
  assert.equal(saved.code, 0, saved.stderr);
});

after(async () => {
  await d?.stop({ keepFiles: true });
  await waitGone(killInstances(join(mnt, 'root')));
  execFileSync('umount', [mnt]);
  rmSync(base, { recursive: true, force: true });
});

test('run -d on a full disk: exit 125 with one sentence, the instance is Created with the error, no VM is left, and a restart drops it', async () => {
  fill(0);
  try {
    const r = await run(['run', '-d', '--name', 'nospace', 'hello', 'idle']);
    assert.equal(r.code, 125, r.stderr);
    assert.equal(r.stderr, 'cunik: cannot start: no space left on the disk holding the daemon root\n');
    const ps = await run(['ps', '-a', '--format', 'json']);
    const rows = JSON.parse(ps.stdout) as { name: string; status: string }[];
    assert.deepEqual(rows.map((x) => [x.name, x.status]), [['nospace', 'Created']]);
    const detail = await d.client.inspectInstance('nospace');
    assert.equal(detail.state, 'created');
    assert.equal(detail.error, 'cannot start: no space left on the disk holding the daemon root');
    assert.equal(detail.exitCode, null);
    assert.deepEqual(killInstances(join(mnt, 'root')), [], 'the VM spawned for it was ended');
  } finally {
    unfill();
  }
  // Its record never reached the disk: after a restart it is gone (not "Exited (0)").
  await d.stop({ keepFiles: true });
  d = await startDaemon({ dir: mnt });
  assert.deepEqual(await d.client.listInstances(true), []);
  // With room again, the same run works.
  assert.equal((await run(['run', '-d', '--name', 'nospace', 'hello', 'idle'])).code, 0);
  assert.equal((await d.client.inspectInstance('nospace')).error, null);
  assert.equal((await run(['rm', '-f', 'nospace'])).code, 0);
});

/** The saved hello archive plus an unreferenced blob of `size` random bytes (stored under its real digest). */
async function bigArchive(size: number): Promise<string> {
  const out = join(base, `big-${size}.tar`);
  const pack = tarPack();
  const ex = tarExtract();
  const blob = randomBytes(size);
  const digest = createHash('sha256').update(blob).digest('hex');
  const done = pipeline(pack, (await import('node:fs')).createWriteStream(out));
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (header.name === 'index.json') pack.entry({ name: `blobs/sha256/${digest}`, size }, blob);
      pack.entry(header, Buffer.concat(chunks), () => next());
    });
  });
  ex.on('finish', () => pack.finalize());
  await pipeline(createReadStream(join(base, 'hello.tar')), ex);
  await done;
  return out;
}

test('a load that fails on a full disk frees its upload at once: nothing held open, the next load works', async () => {
  const archive = await bigArchive(20 * MiB);
  // Room for the upload, not for the upload and its staged copy.
  fill(30 * MiB);
  try {
    const before = free();
    const r = await run(['load', '-i', archive]);
    assert.equal(r.code, 125, 'the load fails');
    assert.equal(r.stderr, 'cunik: no space left on the disk holding the daemon root\n');
    assert.deepEqual(heldDeleted(d.proc.pid!), [], 'no deleted temp file held open by the daemon');
    assert.ok(free() >= before - MiB, `the space is back at once (${free()} free, ${before} before)`);
    assert.deepEqual(readdirSync(join(mnt, 'root', 'tmp')), []);
    const again = await run(['load', '-i', join(base, 'hello.tar')]);
    assert.equal(again.code, 0, again.stderr);
  } finally {
    unfill();
  }
});

test('uploads a killed daemon left are counted by system df and swept at the next start', async () => {
  // An upload that never ends: the daemon is killed while it spools.
  const body = new PassThrough();
  const loading = d.client.loadImages(body).catch(() => undefined);
  body.write(Buffer.alloc(4 * MiB));
  const spool = join(mnt, 'root', 'tmp');
  await waitFor('the upload spooled', () => readdirSync(spool).some((f) => statSync(join(spool, f)).size >= 4 * MiB) || undefined, 15_000);
  const df = await run(['system', 'df']);
  assert.match(df.stdout, /^Temporary Files\s+4\.\d+MB\s+0B\s*$/m);
  const gone = new Promise((res) => d.proc.once('exit', res));
  d.proc.kill('SIGKILL');
  await gone;
  d.client.close();
  body.destroy();
  await loading;
  assert.equal(readdirSync(spool).length, 1, 'left behind by the killed daemon');
  d = await startDaemon({ dir: mnt });
  assert.deepEqual(readdirSync(spool), [], 'swept at start');
  assert.doesNotMatch((await run(['system', 'df'])).stdout, /Temporary/);
  assert.ok(existsSync(join(mnt, 'root', 'images')));
  void readFileSync;
  void Readable;
});
