// The build context: unpacking the client's tar (never outside its directory, whatever the tar
// holds) and where Cunikfile paths point (context vs daemon host, symlinks followed only inside
// the context) and land in the guest.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createHash } from 'node:crypto';
import { pack } from 'tar-stream';
import { fileDigest } from '../../src/build/cache.js';
import { Context, unpackContext } from '../../src/build/context.js';
import { CONTEXT_BY_DIGEST_MIN, ContextStore } from '../../src/build/context-store.js';
import { CunikError } from '../../src/errors.js';
import { tarBytes, type LayerEntry } from '../fixtures/build/oci-archive.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-ctx-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let seq = 0;
async function tarOf(entries: LayerEntry[]): Promise<string> {
  const file = join(tmp, `t-${seq++}.tar`);
  writeFileSync(file, await tarBytes(entries));
  return file;
}

/** A directory outside every context, which no entry may touch. */
function outside(): string {
  const dir = join(tmp, `outside-${seq++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'secret'), 'host secret\n');
  return dir;
}

const refused = (re: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof CunikError, String(e));
  assert.equal(e.status, 400);
  assert.doesNotMatch(e.message, /\n/, 'one line');
  assert.match(e.message, re);
  return true;
};

test('a context tar unpacks with modes, directories, symlinks and hard links', async () => {
  const dir = join(tmp, 'ok');
  const n = await unpackContext(await tarOf([
    { name: './Cunikfile', body: 'family: linux\n' },
    { name: 'bin/', type: 'directory', mode: 0o750 },
    { name: 'bin/run.sh', body: 'echo hi\n', mode: 0o755 },
    { name: 'deep/er/file', body: 'implicit parents\n', mode: 0o640 },
    { name: 'link', type: 'symlink', linkname: 'bin/run.sh' },
    { name: 'abs', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'hard', type: 'link', linkname: 'bin/run.sh' },
  ]), dir);
  assert.equal(n, 3);
  assert.equal(readFileSync(join(dir, 'Cunikfile'), 'utf8'), 'family: linux\n');
  assert.equal(statSync(join(dir, 'bin', 'run.sh')).mode & 0o7777, 0o755);
  assert.equal(statSync(join(dir, 'bin')).mode & 0o7777, 0o750);
  assert.equal(statSync(join(dir, 'deep', 'er', 'file')).mode & 0o7777, 0o640);
  assert.equal(statSync(join(dir, 'deep')).mode & 0o7777, 0o755, 'a parent without an entry is 0755, as tar makes it');
  assert.equal(readlinkSync(join(dir, 'link')), 'bin/run.sh');
  assert.equal(readlinkSync(join(dir, 'abs')), '/etc/passwd', 'a symlink is kept as it is (readers resolve it inside the context)');
  assert.equal(statSync(join(dir, 'hard')).ino, statSync(join(dir, 'bin', 'run.sh')).ino);
});

test('entries that climb out of the context are refused', async () => {
  for (const name of ['../evil', 'a/../../evil', '/etc/evil', 'a/../b']) {
    const dir = join(tmp, `bad-${seq++}`);
    await assert.rejects(unpackContext(await tarOf([{ name, body: 'x' }]), dir), refused(/build context: entry .* (absolute path|outside the archive)/), name);
    assert.equal(existsSync(join(tmp, 'evil')), false);
  }
  const junk = join(tmp, 'junk.tar');
  writeFileSync(junk, 'this is not a tar archive at all'.repeat(40));
  await assert.rejects(unpackContext(junk, join(tmp, 'junk')), /not a readable tar/);
});

test('nothing is written through a symlink the tar made, to a directory or to a file', async () => {
  const host = outside();
  const cases: [string, LayerEntry[], RegExp][] = [
    ['file under a symlink to a host dir', [{ name: 'link', type: 'symlink', linkname: host }, { name: 'link/x', body: 'pwned' }], /"link\/x" is under the symlink "link"/],
    ['dir under a symlink', [{ name: 'link', type: 'symlink', linkname: host }, { name: 'link/sub/', type: 'directory' }], /under the symlink "link"/],
    ['symlink under a symlink', [{ name: 'link', type: 'symlink', linkname: host }, { name: 'link/s', type: 'symlink', linkname: '/' }], /under the symlink/],
    ['relative symlink climbing out', [{ name: 'up', type: 'symlink', linkname: '../../..' }, { name: 'up/x', body: 'pwned' }], /under the symlink "up"/],
    ['deeper under a symlinked dir', [{ name: 'd/', type: 'directory' }, { name: 'd/l', type: 'symlink', linkname: host }, { name: 'd/l/x/y', body: 'pwned' }], /under the symlink "d\/l"/],
  ];
  for (const [what, entries, re] of cases) {
    const dir = join(tmp, `sym-${seq++}`);
    await assert.rejects(unpackContext(await tarOf(entries), dir), refused(re), what);
    assert.deepEqual(readdirSync(host), ['secret'], `${what}: nothing written in the host directory`);
  }
  // A file the tar holds as a symlink to a host file is replaced, never written through.
  const dir = join(tmp, `sym-${seq++}`);
  await unpackContext(await tarOf([{ name: 's', type: 'symlink', linkname: join(host, 'secret') }, { name: 's', body: 'mine' }]), dir);
  assert.equal(readFileSync(join(host, 'secret'), 'utf8'), 'host secret\n');
  assert.equal(readFileSync(join(dir, 's'), 'utf8'), 'mine');
});

test('hard links may point only at files earlier in the archive; devices and fifos are refused', async () => {
  const host = outside();
  const cases: [string, LayerEntry[], RegExp][] = [
    ['absolute target', [{ name: 'h', type: 'link', linkname: join(host, 'secret') }], /absolute path/],
    ['target above the context', [{ name: 'h', type: 'link', linkname: '../../../etc/passwd' }], /outside the archive/],
    ['target through a symlink', [{ name: 'l', type: 'symlink', linkname: host }, { name: 'h', type: 'link', linkname: 'l/secret' }], /under the symlink "l"/],
    ['target a symlink', [{ name: 'l', type: 'symlink', linkname: join(host, 'secret') }, { name: 'h', type: 'link', linkname: 'l' }], /hard link to the symlink "l"/],
    ['target missing', [{ name: 'h', type: 'link', linkname: 'nothing' }], /not a file earlier in the archive/],
    ['character device', [{ name: 'mem', type: 'character-device', devmajor: 1, devminor: 1 }], /"mem" is a character device/],
    ['block device', [{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }], /is a block device/],
    ['fifo', [{ name: 'pipe', type: 'fifo' }], /is a fifo/],
  ];
  for (const [what, entries, re] of cases) {
    const dir = join(tmp, `hl-${seq++}`);
    await assert.rejects(unpackContext(await tarOf(entries), dir), refused(re), what);
    assert.equal(existsSync(join(dir, 'h')), false, what);
  }
  assert.equal(statSync(join(host, 'secret')).nlink, 1, 'no hard link was made to the host file');
});

test('Cunikfile paths: relative in the context, absolute on the host; guest paths', () => {
  const dir = join(tmp, 'paths');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'bin', 'app'), '');
  const ctx = new Context(dir);
  assert.equal(ctx.source('bin/app', 'app'), join(dir, 'bin', 'app'));
  assert.equal(ctx.source('/bin/busybox', 'app'), '/bin/busybox');
  assert.throws(() => ctx.source('../secret', 'files'), (e: unknown) => e instanceof CunikError && e.field === 'files' && /outside the build context/.test(e.message));
  assert.equal(ctx.guestPath(join(dir, 'bin', 'app')), '/bin/app');
  assert.equal(ctx.guestPath('/usr/bin/redis-server'), '/usr/bin/redis-server');
  assert.equal(ctx.guestPath(`${dir}-other/x`), `${dir}-other/x`);
});

test('a context path resolves, after its symlinks, only inside the context', () => {
  const host = outside();
  const dir = join(tmp, 'linked');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'sub', 'real'), 'in the context');
  symlinkSync('/etc/shadow', join(dir, 'shadow'));
  symlinkSync(join(host, 'secret'), join(dir, 'secret'));
  symlinkSync(host, join(dir, 'hostdir'));
  symlinkSync('../..', join(dir, 'sub', 'up'));
  symlinkSync('real', join(dir, 'sub', 'inside'));
  symlinkSync('sub', join(dir, 'alias'));
  const ctx = new Context(dir);
  for (const p of ['shadow', 'secret', 'hostdir', 'hostdir/secret', 'hostdir/missing', 'sub/up', 'sub/up/etc/passwd', 'alias/up/x']) {
    assert.throws(() => ctx.source(p, 'files'), (e: unknown) => e instanceof CunikError && e.field === 'files' && /files: .* is outside the build context/.test(e.message), p);
  }
  assert.equal(ctx.source('sub/inside', 'files'), join(dir, 'sub', 'inside'), 'a symlink inside the context is followed');
  assert.equal(ctx.source('alias/real', 'kernel'), join(dir, 'alias', 'real'));
  assert.equal(ctx.source('sub/missing', 'files'), join(dir, 'sub', 'missing'), 'a missing path inside is the caller\'s "no such file"');
});

/** A tar of entries with PAX records (tar-stream writes them). */
async function paxTar(entries: { name: string; body: Buffer; pax?: Record<string, string> }[]): Promise<string> {
  const p = pack();
  for (const e of entries) p.entry({ name: e.name, mode: 0o644, size: e.body.length, ...(e.pax && { pax: e.pax }) }, e.body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  const file = join(tmp, `pax-${seq++}.tar`);
  writeFileSync(file, Buffer.concat(chunks));
  return file;
}

test('big context files are kept by content; a later context refers to them by digest, and a reference to content not held is refused', async () => {
  const store = new ContextStore(join(tmp, `store-${seq++}`));
  const big = Buffer.alloc(CONTEXT_BY_DIGEST_MIN + 3, 0x41);
  const digest = `sha256:${createHash('sha256').update(big).digest('hex')}`;
  const first = join(tmp, `ctx-${seq++}`);
  await unpackContext(await paxTar([{ name: 'image.tar', body: big }, { name: 'small', body: Buffer.from('s') }]), first, store);
  assert.deepEqual(store.missing([digest, `sha256:${'0'.repeat(64)}`]), [`sha256:${'0'.repeat(64)}`], 'the big file is kept, by the digest of what was written');
  assert.equal(readdirSync(store.dir).length, 1, 'small files are not kept');

  const second = join(tmp, `ctx-${seq++}`);
  await unpackContext(await paxTar([{ name: 'image.tar', body: Buffer.alloc(0), pax: { 'CUNIK.digest': digest } }]), second, store);
  assert.deepEqual(readFileSync(join(second, 'image.tar')), big);
  assert.equal(await fileDigest(join(second, 'image.tar')), digest);
  assert.equal(statSync(join(second, 'image.tar')).mode & 0o222, 0, 'kept content is read-only: no build writes it for the next');

  for (const [pax, body, why] of [
    [{ 'CUNIK.digest': `sha256:${'1'.repeat(64)}` }, Buffer.alloc(0), /refers to content "sha256:1{64}", which the daemon does not hold/],
    [{ 'CUNIK.digest': '../../etc/passwd' }, Buffer.alloc(0), /which the daemon does not hold/],
    [{ 'CUNIK.digest': digest }, Buffer.from('a body too'), /which the daemon does not hold/],
  ] as const) {
    const dir = join(tmp, `ctx-${seq++}`);
    await assert.rejects(unpackContext(await paxTar([{ name: 'x', body, pax }]), dir, store), (e: unknown) => e instanceof CunikError && e.field === 'body' && why.test(e.message));
  }
  // Without a store (an older daemon's unpack), a reference is refused the same way.
  await assert.rejects(unpackContext(await paxTar([{ name: 'x', body: Buffer.alloc(0), pax: { 'CUNIK.digest': digest } }]), join(tmp, `ctx-${seq++}`)), /does not hold/);
  // system df counts it in the build cache: freed by a prune only once no context links it.
  const [kept, ...more] = store.list();
  assert.deepEqual([kept?.id, kept?.type, kept?.size, kept?.reclaimable, kept?.inUse, more.length], [digest.slice(7), 'context', big.length, 0, false, 0]);
  assert.ok(Date.parse(kept!.lastUsedAt) >= Date.parse(kept!.createdAt));
  rmSync(first, { recursive: true });
  rmSync(second, { recursive: true });
  assert.equal(store.list()[0]?.reclaimable, big.length, 'no context links it any more');
  assert.deepEqual(store.prune(), { deleted: [digest.slice(7)], freed: big.length });
  assert.deepEqual(store.list(), []);
  assert.deepEqual(store.missing([digest]), [digest]);
});
