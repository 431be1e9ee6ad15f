// The newc cpio writer: its bytes read back by Debian's cpio (or bsdtar), and by a small reader here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { cpioStream, parentDirs, writeCpioGz, type CpioEntry } from '../../src/build/linux/cpio.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-cpio-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const src = join(tmp, 'data.bin');
writeFileSync(src, Buffer.alloc(1001, 7));
const entries: CpioEntry[] = [
  ...parentDirs(['/bin/app', '/dev/console', '/etc/conf']).map((name): CpioEntry => ({ type: 'dir', name })),
  { type: 'file', name: '/bin/app', mode: 0o755, source: src },
  { type: 'symlink', name: '/bin/sh', target: 'app' },
  { type: 'char', name: '/dev/console', major: 5, minor: 1 },
  { type: 'file', name: '/etc/conf', source: Buffer.from('x=1\n'), uid: 33, gid: 34 },
];

/** Parse a newc archive back into entries (name, mode, size, data, rdev). */
function readNewc(buf: Buffer): { name: string; mode: number; owner: [number, number]; data: Buffer; rdev: [number, number] }[] {
  const out = [];
  let off = 0;
  for (;;) {
    assert.equal(buf.toString('ascii', off, off + 6), '070701', `magic at ${off}`);
    const f = (i: number): number => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const [mode, uid, gid, size, rmaj, rmin, namesize] = [f(1), f(2), f(3), f(6), f(9), f(10), f(11)];
    const name = buf.toString('utf8', off + 110, off + 110 + namesize - 1);
    off = (off + 110 + namesize + 3) & ~3;
    const data = buf.subarray(off, off + size);
    off = (off + size + 3) & ~3;
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode, owner: [uid, gid] as [number, number], data, rdev: [rmaj, rmin] as [number, number] });
  }
  assert.equal(off, buf.length, 'nothing after the trailer');
  return out;
}

test('entries round-trip through the newc format, 4-byte aligned, deterministic', async () => {
  const out = join(tmp, 'a.cpio.gz');
  await writeCpioGz(entries, out);
  const raw = gunzipSync(readFileSync(out));
  const back = readNewc(raw);
  assert.deepEqual(back.map((e) => e.name), ['bin', 'dev', 'etc', 'bin/app', 'bin/sh', 'dev/console', 'etc/conf']);
  const byName = new Map(back.map((e) => [e.name, e]));
  assert.equal(byName.get('bin')!.mode, 0o040755);
  assert.equal(byName.get('bin/app')!.mode, 0o100755);
  assert.deepEqual(byName.get('bin/app')!.data, readFileSync(src));
  assert.equal(byName.get('bin/sh')!.mode, 0o120777);
  assert.equal(byName.get('bin/sh')!.data.toString(), 'app');
  assert.equal(byName.get('dev/console')!.mode, 0o020600);
  assert.deepEqual(byName.get('dev/console')!.rdev, [5, 1]);
  assert.equal(byName.get('etc/conf')!.data.toString(), 'x=1\n');
  assert.deepEqual(byName.get('etc/conf')!.owner, [33, 34], 'an entry\'s owner is kept');
  assert.deepEqual(byName.get('bin/app')!.owner, [0, 0], 'root by default');
  const again = join(tmp, 'b.cpio.gz');
  await writeCpioGz(entries, again);
  assert.deepEqual(readFileSync(again), readFileSync(out), 'same entries, same bytes');
});

test('Debian\'s cpio (or bsdtar) lists the archive with the right types', async () => {
  const chunks: Buffer[] = [];
  for await (const c of cpioStream(entries)) chunks.push(c);
  const raw = Buffer.concat(chunks);
  let r = spawnSync('cpio', ['-itv', '--quiet'], { input: raw, encoding: 'utf8' });
  if (r.error) r = spawnSync('bsdtar', ['-tvf', '-'], { input: raw, encoding: 'utf8' });
  assert.ok(!r.error, 'neither cpio nor bsdtar is installed (setup.sh installs cpio)');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const line = (name: string): string => lines.find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} -> `)) ?? '';
  assert.match(line('bin'), /^drwxr-xr-x/);
  assert.match(line('bin/app'), /^-rwxr-xr-x .* 1001 /);
  assert.match(line('bin/sh'), /^lrwxrwxrwx .*bin\/sh -> app$/);
  assert.match(line('dev/console'), /^crw-------/);
  assert.match(line('etc/conf'), /^-rw-r--r--/);
});

test('parentDirs lists each missing parent once, parents first', () => {
  assert.deepEqual(parentDirs(['/a/b/c', '/a/b/d', '/a/e', '/f'], new Set(['/a'])), ['/a/b']);
  assert.deepEqual(parentDirs(['/x/y/z']), ['/x', '/x/y']);
});
