// The one implementation of each primitive: sizes (util/size.ts), atomic writes (util/atomic-write.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { atomicWriteFile, atomicWriteFileSync } from '../../src/util/atomic-write.js';
import { parseSize } from '../../src/util/size.js';

test('parseSize: binary multiples, optional i/b/ib, bare numbers in the caller\'s unit', () => {
  const table: [string, 'b' | 'm', number][] = [
    ['4096', 'b', 4096],
    ['64', 'm', 64 * 2 ** 20],
    ['512k', 'b', 512 * 1024],
    ['10m', 'b', 10 * 2 ** 20],
    ['10MiB', 'b', 10 * 2 ** 20],
    ['10Mi', 'b', 10 * 2 ** 20],
    ['10MB', 'b', 10 * 2 ** 20],
    ['1g', 'm', 2 ** 30],
    ['1.5g', 'b', 1.5 * 2 ** 30],
    ['2t', 'b', 2 * 2 ** 40],
    ['100b', 'm', 100],
    [' 64 M ', 'b', 64 * 2 ** 20],
  ];
  for (const [input, unit, bytes] of table) assert.equal(parseSize(input, unit), bytes, input);
  for (const bad of ['', 'ten', '10x', '-1m', '1e3', 'm', '1,5g', '0x10']) assert.equal(parseSize(bad), undefined, bad);
});

test('atomicWriteFile replaces the file whole, with its mode, and leaves no temp file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-aw-'));
  try {
    const file = join(dir, 'record.json');
    writeFileSync(file, 'old');
    await atomicWriteFile(file, 'new', 0o600);
    assert.equal(readFileSync(file, 'utf8'), 'new');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    atomicWriteFileSync(join(dir, 'sub', 'meta.json'), Buffer.from('{}'));
    assert.equal(readFileSync(join(dir, 'sub', 'meta.json'), 'utf8'), '{}');
    assert.deepEqual(readdirSync(dir).sort(), ['record.json', 'sub']);
    // A failed write (the directory is gone) throws and leaves the old content where it was.
    await assert.rejects(atomicWriteFile(join(dir, 'nosuch', 'x'), 'y'), /ENOENT/);
    assert.deepEqual(readdirSync(dir).sort(), ['record.json', 'sub']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readElfHeader and programHeaders read 32- and 64-bit ELFs alike', async () => {
  const { readElfHeader, programHeaders, PT_LOAD, EM_X86_64 } = await import('../../src/util/elf.js');
  const { repo } = await import('../helpers/daemon.js');
  // The test kernel: a 32-bit multiboot ELF; node itself: a 64-bit x86-64 one.
  for (const [file, is64] of [[join(repo, 'build', 'kernels', 'hello.elf'), false], [process.execPath, true]] as const) {
    const buf = readFileSync(file);
    const e = readElfHeader(buf)!;
    assert.equal(e.is64, is64, file);
    if (is64) assert.equal(e.machine, EM_X86_64);
    const loads = programHeaders(buf.subarray(e.phoff, e.phoff + e.phnum * e.phentsize), e).filter((p) => p.type === PT_LOAD);
    assert.ok(loads.length > 0, `${file} has PT_LOAD segments`);
    for (const l of loads) assert.ok(l.offset + l.filesz <= buf.length && l.memsz >= l.filesz, file);
  }
  assert.equal(readElfHeader(Buffer.from('not an elf at all, but long enough to have a header of fifty-two bytes')), undefined);
  const bigEndian = Buffer.alloc(64);
  bigEndian.writeUInt32BE(0x7f454c46, 0);
  bigEndian[4] = 2;
  bigEndian[5] = 2;
  assert.throws(() => readElfHeader(bigEndian), /big-endian/);
});
