// ELF dependency resolution against real ELFs: the system's /bin/ls, busybox-static, and a
// library + app the test compiles with RUNPATH / RPATH ($ORIGIN).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readElf } from '../../src/build/linux/elf.js';
import { ldSoConfDirs, resolveLibraries } from '../../src/build/linux/libs.js';
import { CunikError } from '../../src/errors.js';
import { repo } from '../helpers/daemon.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-elf-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const hasGcc = spawnSync('gcc', ['--version']).status === 0;
const fixtures = join(repo, 'test', 'fixtures', 'build');

test('readElf: /bin/ls names its loader and libc; busybox-static needs nothing', () => {
  const ls = readElf('/bin/ls');
  assert.equal(ls.interp, '/lib64/ld-linux-x86-64.so.2');
  assert.ok(ls.needed.includes('libc.so.6'), ls.needed.join(','));
  assert.ok(ls.dynamic);
  assert.ok(existsSync('/bin/busybox'), 'busybox-static is not installed (setup.sh installs it)');
  const bb = readElf('/bin/busybox');
  assert.equal(bb.interp, undefined);
  assert.deepEqual(bb.needed, []);
});

test('readElf refuses what is not an x86-64 ELF, naming the file', () => {
  const f = join(tmp, 'script.sh');
  writeFileSync(f, '#!/bin/sh\necho hi\n'.padEnd(80, ' '));
  assert.throws(() => readElf(f), (e: unknown) => e instanceof CunikError && /script\.sh: not an ELF file/.test(e.message));
});

test('resolveLibraries(/bin/ls): the loader at its PT_INTERP path, libc where the loader finds it, real files', () => {
  const libs = resolveLibraries('/bin/ls');
  const guests = libs.map((l) => l.guest);
  assert.equal(guests[0], '/lib64/ld-linux-x86-64.so.2');
  assert.ok(guests.some((g) => /^\/(usr\/)?lib\/x86_64-linux-gnu\/libc\.so\.6$/.test(g)), guests.join(' '));
  for (const l of libs) assert.equal(realpathSync(l.host), l.host, 'hosts are resolved files');
  // Transitive: every library's own DT_NEEDED is present.
  for (const l of libs) for (const n of readElf(l.host).needed) assert.ok(guests.some((g) => g.endsWith(`/${n}`)), `${n} (needed by ${l.guest})`);
  // Like ldd, but from the ELF itself: the same set of sonames.
  const ldd = execFileSync('ldd', ['/bin/ls'], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/^\s*(\S+\.so[.\d]*) => /gm)) assert.ok(guests.some((g) => g.endsWith(`/${m[1]}`)), `ldd lists ${m[1]}`);
});

test('DT_RUNPATH and DT_RPATH with $ORIGIN; a missing library names who needs it', () => {
  assert.ok(hasGcc, 'gcc is not installed (setup.sh installs it)');
  const root = join(tmp, 'app');
  mkdirSync(join(root, 'lib'), { recursive: true });
  mkdirSync(join(root, 'bin'), { recursive: true });
  execFileSync('gcc', ['-shared', '-fPIC', '-o', join(root, 'lib', 'libfoo.so'), join(fixtures, 'foo.c')]);
  for (const [name, tags] of [['runpath', '--enable-new-dtags'], ['rpath', '--disable-new-dtags']] as const) {
    const app = join(root, 'bin', name);
    execFileSync('gcc', ['-o', app, join(fixtures, 'app.c'), `-L${join(root, 'lib')}`, '-lfoo', `-Wl,${tags},-rpath,$ORIGIN/../lib`]);
    const elf = readElf(app);
    assert.deepEqual(name === 'runpath' ? elf.runpath : elf.rpath, ['$ORIGIN/../lib']);
    const libs = resolveLibraries(app, { guestPath: (p) => (p.startsWith(root) ? `/app${p.slice(root.length)}` : p) });
    const foo = libs.find((l) => l.guest.endsWith('libfoo.so'));
    assert.ok(foo, libs.map((l) => l.guest).join(' '));
    assert.equal(foo.guest, '/app/lib/libfoo.so');
    assert.equal(foo.why, `${name === 'runpath' ? 'DT_RUNPATH' : 'DT_RPATH'} of ${name}`);
  }
  rmSync(join(root, 'lib', 'libfoo.so'));
  assert.throws(() => resolveLibraries(join(root, 'bin', 'runpath')), (e: unknown) =>
    e instanceof CunikError && /runpath needs libfoo\.so, which was not found/.test(e.message));
});

test('ld.so.conf: include globs are followed in order, comments ignored', () => {
  const d = join(tmp, 'etc');
  mkdirSync(join(d, 'ld.so.conf.d'), { recursive: true });
  writeFileSync(join(d, 'ld.so.conf'), '# comment\ninclude ld.so.conf.d/*.conf\n/opt/last\n');
  writeFileSync(join(d, 'ld.so.conf.d', 'b.conf'), '/opt/b\n');
  writeFileSync(join(d, 'ld.so.conf.d', 'a.conf'), '/opt/a # trailing\n\n/opt/a2\n');
  writeFileSync(join(d, 'ld.so.conf.d', 'skip.txt'), '/opt/no\n');
  assert.deepEqual(ldSoConfDirs(join(d, 'ld.so.conf')), ['/opt/a', '/opt/a2', '/opt/b', '/opt/last']);
});
