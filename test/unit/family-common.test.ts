import assert from 'node:assert/strict';
import test from 'node:test';
import { appEnv, netmask, programName, shQuote } from '../../src/families/common.js';
import { consoleExit, debugExitStatus, exitStatusOf } from '../../src/families/exit.js';
import type { FamilyAdapter } from '../../src/families/types.js';
import { instanceExitStatus } from '../../src/instances/exit-status.js';
import type { VmExit } from '../../src/vmm/types.js';
import { generic } from '../../src/families/generic.js';
import { tscKhzFromCpuinfo } from '../../src/families/host.js';
import { familyAdapter, familyNames } from '../../src/families/index.js';
import { qemuImgOverlayArgv } from '../../src/vmm/qemu/overlay.js';
import { CunikError } from '../../src/errors.js';
import { image, instance } from './family-helpers.js';

test('registry: every family is registered under its name', () => {
  assert.deepEqual(familyNames(), ['generic', 'linux', 'unikraft', 'solo5', 'nanos', 'osv', 'rumprun', 'includeos', 'hermit']);
  for (const name of familyNames()) assert.equal(familyAdapter(name).name, name);
  assert.throws(() => familyAdapter('plan9'), (e: unknown) => e instanceof CunikError && e.code === 'NOT_FOUND');
});

test('host TSC frequency from /proc/cpuinfo', () => {
  const cpu = (model: string, mhz: string, flags = 'fpu tsc constant_tsc nonstop_tsc'): string =>
    `processor\t: 0\nmodel name\t: ${model}\ncpu MHz\t\t: ${mhz}\nflags\t\t: ${flags}\n\nprocessor\t: 1\nmodel name\t: other @ 9.99GHz\n`;
  const cases: Array<[string, number | undefined]> = [
    [cpu('Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz', '2100.000'), 1900000], // nominal, not the current speed
    [cpu('Intel(R) Xeon(R) Processor', '2000.000'), 2000000],
    [cpu('AMD EPYC 7B13', '2449.998'), 2449998],
    [cpu('Intel(R) Xeon(R) Processor', '2000.000', 'fpu tsc'), undefined], // no constant_tsc
    ['', undefined],
  ];
  for (const [text, khz] of cases) assert.equal(tscKhzFromCpuinfo(text), khz);
});

test('netmask, shell quoting, env merge', () => {
  assert.deepEqual([0, 8, 20, 24, 32].map(netmask), ['0.0.0.0', '255.0.0.0', '255.255.240.0', '255.255.255.0', '255.255.255.255']);
  assert.equal(shQuote('/bin/app'), '/bin/app');
  assert.equal(shQuote('a b'), "'a b'");
  assert.equal(shQuote("it's"), `'it'"'"'s'`);
  assert.equal(shQuote(''), "''");
  assert.deepEqual(appEnv(image('x', { env: ['A=1', 'B=2'] }), instance({ env: ['A=3', 'C=x=y'] })), [['A', '3'], ['B', '2'], ['C', 'x=y']]);
  assert.throws(() => appEnv(image('x'), instance({ env: ['NOVALUE'] })), /KEY=VALUE/);
});

test('exitStatusOf: lost statuses are unknown for every family; exact families by default', () => {
  for (const name of familyNames()) {
    const s = exitStatusOf(familyAdapter(name), { status: null, signal: null });
    assert.deepEqual([s.code, s.known], [0, false], name);
  }
  assert.deepEqual(exitStatusOf(generic, { status: 7, signal: null }), { code: 3, known: true });
  assert.deepEqual(exitStatusOf(familyAdapter('linux'), { status: 255, signal: null }), { code: 127, known: true });
  assert.equal(debugExitStatus({ status: 0, signal: null }).known, false);
  assert.equal(debugExitStatus({ status: 4, signal: null }).known, false);
});

test('qemu-img overlay argv: absolute backing, relative overlay resolved in the instance dir', () => {
  const disk = { path: 'disk.qcow2', format: 'qcow2' as const, readonly: false, overlay: { backing: 'disk', backingFormat: 'raw' as const } };
  assert.deepEqual(qemuImgOverlayArgv(disk, '/d', '/usr/bin/qemu-img'), ['/usr/bin/qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/d/disk', '/d/disk.qcow2']);
  assert.throws(() => qemuImgOverlayArgv({ path: '/x', format: 'raw', readonly: false }, '/d'), /not an overlay/);
  assert.throws(() => qemuImgOverlayArgv({ ...disk, format: 'raw' }, '/d'), /qcow2/);
});

test('instanceExitStatus: where each code comes from (guest, signal, unknown, console, vmm)', () => {
  const linux = familyAdapter('linux');
  const of = (adapter: FamilyAdapter, exit: VmExit, console = '') => instanceExitStatus(adapter, exit, () => console);
  assert.deepEqual(of(linux, { status: 7, signal: null }), { code: 3, known: true, source: 'guest' });
  assert.deepEqual(of(linux, { status: null, signal: 'SIGTERM' }), { code: 143, known: true, source: 'signal', note: 'QEMU was killed by SIGTERM' });
  assert.equal(of(linux, { status: null, signal: 'SIGHUP' }).code, 129);
  assert.equal(of(linux, { status: null, signal: 'SIGKILL' }).code, 137);
  assert.equal(of(linux, { status: 0, signal: null }).source, 'unknown');
  assert.equal(of(linux, { status: null, signal: null }).source, 'unknown');
  assert.deepEqual(of(linux, { status: 1, signal: null, vmmError: 'qemu: could not load kernel' }), { code: 125, known: true, source: 'vmm', note: 'the VM failed to start: qemu: could not load kernel' });
  // A family that prints its exit: the last such line of the run wins, over QEMU's status and a signal.
  const printing: FamilyAdapter = { ...generic, exitFromConsole: (line) => { const m = /^bye (\d+)$/.exec(line); return m ? { code: Number(m[1]) } : undefined; } };
  assert.deepEqual(of(printing, { status: 1, signal: null }, 'hello\r\nbye 4\r\nbye 9\r\nhalted\n'), { code: 9, known: true, source: 'console' });
  assert.deepEqual(of(printing, { status: null, signal: 'SIGKILL' }, 'bye 2\n'), { code: 2, known: true, source: 'console' });
  assert.deepEqual(of(printing, { status: 7, signal: null }, 'no exit line\n'), { code: 3, known: true, source: 'guest' });
  let read = false;
  instanceExitStatus(generic, { status: 7, signal: null }, () => ((read = true), ''));
  assert.equal(read, false, 'families without the hook never read the console');
  assert.equal(consoleExit(generic, 'bye 2\n'), undefined);
});

test('argv[0]: every multiboot family gives QEMU the kernel (or chainloaded service) under the image\'s name, never a host path', () => {
  const files = { kernelPath: '/var/lib/cunik/instances/abc/kernel' };
  const cases: Array<[string, Partial<Parameters<typeof image>[1]>, { kernelName?: string; moduleName?: string }]> = [
    ['generic', files, { kernelName: 'nginx' }],
    ['unikraft', files, { kernelName: 'nginx' }],
    ['solo5', files, { kernelName: 'nginx' }],
    ['rumprun', files, { kernelName: 'nginx' }],
    ['includeos', files, { kernelName: 'nginx' }],
    ['includeos', { ...files, initrdPath: '/var/lib/cunik/instances/abc/initrd' }, { moduleName: 'nginx' }],
    ['hermit', { ...files, initrdPath: '/var/lib/cunik/instances/abc/initrd' }, { kernelName: 'nginx' }],
    // Not multiboot: QEMU passes them no file name.
    ['linux', { boot: 'linux', kernelPath: '/i/vmlinux', initrdPath: '/i/initrd' }, {}],
    ['nanos', { boot: 'disk', kernelPath: '/i/disk', diskPath: '/i/disk' }, {}],
    ['osv', { boot: 'disk', kernelPath: '/i/disk', diskPath: '/i/disk', labels: { 'org.cunik.disk-format': 'qcow2' } }, {}],
  ];
  for (const [family, patch, want] of cases) {
    const spec = familyAdapter(family).bootSpec(image(family, { name: 'nginx', ...patch }), instance());
    assert.equal(spec.kernelName, want.kernelName, `${family}: kernelName`);
    assert.equal(spec.modules?.[0]?.name, want.moduleName, `${family}: module name`);
  }
});

test('programName: the image\'s name when it is a plain file name, else "app"', () => {
  const cases: Array<[string | undefined, string]> = [
    ['nginx', 'nginx'],
    ['my-app_1.2', 'my-app_1.2'],
    [undefined, 'app'],
    ['', 'app'],
    ['..', 'app'],
    ['a/b', 'app'],
    ['-x', 'app'],
  ];
  for (const [name, want] of cases) assert.equal(programName(image('generic', name === undefined ? {} : { name })), want, String(name));
});
