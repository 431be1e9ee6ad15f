// vmlinux extraction: synthetic bzImages wrapping the PVH test kernel in each compression, and
// Debian's own kernel when it is installed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { extractVmlinux, parseBzImage, vmlinuxVersion } from '../../src/build/linux/vmlinux.js';
import { detectKernelFormatFile } from '../../src/images/kernel-format.js';
import { CunikError } from '../../src/errors.js';
import { kernels } from '../helpers/daemon.js';

const tmp = mkdtempSync(join(tmpdir(), 'cunik-vmlinux-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const pvh = readFileSync(join(kernels, 'hello-pvh.elf'));

/** A minimal bzImage: setup header (boot protocol 2.15) with payload_offset/length and a version string. */
function bzImage(payload: Buffer, version = '9.9.9-test (cunik) #1'): Buffer {
  const setupSects = 3;
  const setup = Buffer.alloc((setupSects + 1) * 512);
  setup[0x1f1] = setupSects;
  setup.write('HdrS', 0x202, 'latin1');
  setup.writeUInt16LE(0x020f, 0x206);
  setup.writeUInt16LE(0x600 - 0x200, 0x20e); // kernel_version: offset from 0x200
  setup.write(`${version}\0`, 0x600, 'latin1');
  const pm = Buffer.alloc(64); // protected-mode code before the payload
  setup.writeUInt32LE(pm.length, 0x248);
  setup.writeUInt32LE(payload.length, 0x24c);
  return Buffer.concat([setup, pm, payload, Buffer.alloc(100)]);
}
const sizeSuffix = (b: Buffer): Buffer => {
  const s = Buffer.alloc(4);
  s.writeUInt32LE(pvh.length);
  return Buffer.concat([b, s]);
};
const compress = (cmd: string, args: string[]): Buffer | undefined => {
  const r = spawnSync(cmd, args, { input: pvh, maxBuffer: 1 << 28 });
  return r.status === 0 ? r.stdout : undefined;
};

test('the header gives the payload, its compression and the release', () => {
  const bz = parseBzImage(bzImage(gzipSync(pvh)));
  assert.equal(bz.compression, 'gzip');
  assert.equal(bz.version, '9.9.9-test');
  assert.equal(bz.protocol, 0x20f);
  assert.throws(() => parseBzImage(pvh, 'x'), (e: unknown) => e instanceof CunikError && /x: not a Linux bzImage/.test(e.message));
  const bad = bzImage(Buffer.from('not compressed at all'));
  assert.throws(() => parseBzImage(bad), /unknown payload compression/);
});

for (const [name, make] of [
  ['gzip', () => gzipSync(pvh)],
  ['xz', () => { const c = compress('xz', ['-c', '--check=crc32']); return c && sizeSuffix(c); }],
  ['zstd', () => { const c = compress('zstd', ['-c', '-q']); return c && sizeSuffix(c); }],
] as const) {
  test(`a ${name} payload extracts to the exact vmlinux, checked bootable (PVH)`, async () => {
    const payload = make();
    assert.ok(payload, `${name} is not installed (setup.sh installs it)`);
    const file = join(tmp, `bz-${name}`);
    writeFileSync(file, bzImage(payload));
    const out = join(tmp, `vmlinux-${name}`);
    const r = await extractVmlinux(file, out);
    assert.equal(r.compression, name);
    assert.equal(r.version, '9.9.9-test');
    assert.deepEqual(readFileSync(out), pvh);
  });
}

test('a payload that is no PVH kernel is refused and leaves nothing behind', async () => {
  const file = join(tmp, 'bz-nopvh');
  writeFileSync(file, bzImage(gzipSync(Buffer.alloc(4096, 1))));
  const out = join(tmp, 'vmlinux-nopvh');
  await assert.rejects(extractVmlinux(file, out), /not a bootable kernel|no PVH note/);
  assert.equal(existsSync(out), false);
});

test("Debian's kernel: its vmlinux is a PVH ELF whose banner matches the header's release", async () => {
  const boot = existsSync('/boot') ? readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-')) : [];
  assert.ok(boot.length > 0, 'no /boot/vmlinuz-*: apt-get install linux-image-amd64 (setup.sh installs it)');
  const out = join(tmp, 'vmlinux-debian');
  const r = await extractVmlinux(join('/boot', boot[0]!), out);
  assert.equal(r.version, boot[0]!.slice('vmlinuz-'.length));
  assert.equal(detectKernelFormatFile(out).boot, 'pvh');
  assert.equal(vmlinuxVersion(out), r.version);
});
