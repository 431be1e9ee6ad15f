// The .uk_libinfo reader on ELFs gcc builds here: an object with the section laid out as Unikraft's
// lib/uklibid writes it, and the 32-bit test kernel imitating Unikraft 0.16.3's helloworld.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseUnikraftLibsLabel, unikraftLibInfo } from '../../src/families/unikraft-libinfo.js';
import { importLabels } from '../../src/images/import-facts.js';
import { kernels } from '../helpers/daemon.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-uklibinfo-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** An ELF64 object whose .uk_libinfo holds `headers`: each a list of [record type, C string]. */
function objectWith(headers: Array<Array<[number, string]>>, extra = ''): Buffer {
  const fields: string[] = [];
  const inits: string[] = [];
  headers.forEach((recs, h) => {
    const len = 6 + recs.reduce((n, [, s]) => n + 6 + s.length + 1, 0);
    fields.push(`u32 h${h}; u16 v${h};`, ...recs.map(([, s], r) => `u16 t${h}_${r}; u32 l${h}_${r}; char d${h}_${r}[${s.length + 1}];`));
    inits.push(`${len}, 1`, ...recs.map(([type, s]) => `${type}, ${6 + s.length + 1}, ${JSON.stringify(s)}`));
  });
  const c = join(tmp, `o${headers.length}.c`);
  writeFileSync(c, `typedef unsigned int u32; typedef unsigned short u16;
static const struct __attribute__((packed)) { ${fields.join(' ')} ${extra} } info __attribute__((section(".uk_libinfo"), used)) = { ${inits.join(', ')} };
int other = 1;\n`);
  const o = c.replace(/\.c$/, '.o');
  execFileSync('gcc', ['-c', '-o', o, c]);
  return readFileSync(o);
}

test('unikraft libinfo: library names and the global header\'s version, records of any type skipped', () => {
  const elf = objectWith([
    [[7, '0.17.0~5d44c2b6'], [8, 'Calypso'], [11, 'GCC 12.2.0']],
    [[1, 'libkvmplat'], [11, 'GCC 12.2.0']],
    [[1, 'libukrandom'], [6, '0.17.0']],
    [[1, 'bad name,with comma']],
    [[1, 'libkvmplat']],
  ]);
  assert.deepEqual(unikraftLibInfo(elf), { libs: ['libkvmplat', 'libukrandom'], version: '0.17.0~5d44c2b6' });
});

test('unikraft libinfo: a header whose length overruns the section ends the walk, keeping what was read', () => {
  // A trailing header claiming 1000 bytes (the struct is shorter).
  const elf = objectWith([[[1, 'libukboot']], [[1, 'libuknetdev']]], 'u32 bogus; u16 bv;');
  const c = join(tmp, 'o2.c');
  writeFileSync(c, readFileSync(c, 'utf8').replace(/ \};\nint other/, ', 1000, 1 };\nint other'));
  execFileSync('gcc', ['-c', '-o', join(tmp, 'o2.o'), c]);
  assert.deepEqual(unikraftLibInfo(elf)?.libs, ['libukboot', 'libuknetdev']);
  assert.deepEqual(unikraftLibInfo(readFileSync(join(tmp, 'o2.o'))), { libs: ['libukboot', 'libuknetdev'] });
});

test('unikraft libinfo: undefined without the section or for a non-ELF', () => {
  assert.equal(unikraftLibInfo(readFileSync(join(kernels, 'hello.elf'))), undefined);
  assert.equal(unikraftLibInfo(Buffer.alloc(64)), undefined);
  assert.equal(parseUnikraftLibsLabel(undefined), undefined);
  assert.deepEqual([...parseUnikraftLibsLabel('liba,libb')!], ['liba', 'libb']);
});

test('unikraft import labels: the 32-bit test kernel imitating 0.16.3 helloworld; none without the section', () => {
  const labels = importLabels({ family: 'unikraft', kernel: join(kernels, 'unikraft.elf'), boot: 'multiboot' });
  assert.deepEqual(labels, {
    'org.cunik.unikraft.libs': 'libkvmplat,apphelloworld,libnolibc,libukboot,libukdebug,libuklibid',
    'org.cunik.unikraft.version': '0.16.3~e453b74a',
  });
  assert.deepEqual(importLabels({ family: 'unikraft', kernel: join(kernels, 'hello.elf'), boot: 'multiboot' }), {});
});
