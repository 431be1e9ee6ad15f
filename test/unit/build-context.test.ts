// The build context: unpacking the client's tar (never outside its directory) and where
// Cunikfile paths point (context vs daemon host) and land in the guest.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pack } from 'tar-stream';
import { Context, unpackContext } from '../../src/build/context.js';
import { CunikError } from '../../src/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-ctx-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function tarOf(entries: { name: string; type?: 'file' | 'directory' | 'symlink'; body?: string; mode?: number; linkname?: string }[]): Promise<string> {
  const p = pack();
  for (const e of entries) {
    if (e.type === 'directory' || e.type === 'symlink') p.entry({ name: e.name, type: e.type, ...(e.linkname && { linkname: e.linkname }) });
    else p.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.body ?? '');
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  const file = join(tmp, `t-${chunks.length}-${Math.random()}.tar`);
  writeFileSync(file, Buffer.concat(chunks));
  return file;
}

test('a context tar unpacks with modes, directories and symlinks', async () => {
  const dir = join(tmp, 'ok');
  const n = await unpackContext(await tarOf([
    { name: './Cunikfile', body: 'family: linux\n' },
    { name: 'bin/', type: 'directory' },
    { name: 'bin/run.sh', body: 'echo hi\n', mode: 0o755 },
    { name: 'link', type: 'symlink', linkname: 'bin/run.sh' },
  ]), dir);
  assert.equal(n, 2);
  assert.equal(readFileSync(join(dir, 'Cunikfile'), 'utf8'), 'family: linux\n');
  assert.equal(statSync(join(dir, 'bin', 'run.sh')).mode & 0o777, 0o755);
  assert.equal(readlinkSync(join(dir, 'link')), 'bin/run.sh');
});

test('entries that climb out of the context are refused', async () => {
  for (const name of ['../evil', 'a/../../evil', '/etc/evil']) {
    const dir = join(tmp, `bad-${Math.random()}`);
    await assert.rejects(unpackContext(await tarOf([{ name, body: 'x' }]), dir), (e: unknown) =>
      e instanceof CunikError && /outside the context/.test(e.message), name);
    assert.equal(existsSync(join(tmp, 'evil')), false);
  }
  const junk = join(tmp, 'junk.tar');
  writeFileSync(junk, 'this is not a tar archive at all'.repeat(40));
  await assert.rejects(unpackContext(junk, join(tmp, 'junk')), /not a readable tar/);
});

test('Cunikfile paths: relative in the context, absolute on the host; guest paths', () => {
  const ctx = new Context('/srv/ctx');
  assert.equal(ctx.source('bin/app', 'app'), '/srv/ctx/bin/app');
  assert.equal(ctx.source('/bin/busybox', 'app'), '/bin/busybox');
  assert.throws(() => ctx.source('../secret', 'files'), (e: unknown) => e instanceof CunikError && e.field === 'files' && /outside the build context/.test(e.message));
  assert.equal(ctx.guestPath('/srv/ctx/bin/app'), '/bin/app');
  assert.equal(ctx.guestPath('/usr/bin/redis-server'), '/usr/bin/redis-server');
  assert.equal(ctx.guestPath('/srv/ctx-other/x'), '/srv/ctx-other/x');
});
