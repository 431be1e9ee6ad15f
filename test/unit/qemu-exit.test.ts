// How a QEMU run ended (src/vmm/qemu/exit.ts), from real QEMU 7.2 stderr lines: a warning never
// turns the guest's code into a VMM failure; QEMU ending on a signal it caught is that signal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { qemuExit, RUN_MARKER } from '../../src/vmm/qemu/exit.js';
import type { VmExit } from '../../src/vmm/types.js';

const NINEP =
  'qemu-system-x86_64: warning: 9p: degraded performance: a reasonable high msize should be chosen on client/guest side (chosen msize is <= 8192). See https://wiki.qemu.org/Documentation/9psetup#msize for details.';
const TERM = 'qemu-system-x86_64: terminating on signal 15 from pid 4242 (node)';
const HUP = 'qemu-system-x86_64: terminating on signal 1 from pid 1 (systemd)';
const NO_KERNEL = "qemu: could not open kernel file '/nonexistent': No such file or directory";
const HOSTFWD = "qemu-system-x86_64: -netdev user,id=net0,hostfwd=tcp::8080-:80: could not set up host forwarding rule 'tcp::8080-:80'";
const BAD_OPT = "qemu-system-x86_64: -device virtio-9p-device,fsdev=fs0,mount_tag=x: warning: 'virtio-9p-device' is deprecated";

const cases: { name: string; raw: VmExit; stderr: string[]; guestRan?: boolean; want: VmExit }[] = [
  { name: 'guest exit 3 with a 9p warning stays 3 (status 7)', raw: { status: 7, signal: null }, stderr: [NINEP], guestRan: true, want: { status: 7, signal: null, stderr: NINEP } },
  { name: 'guest exit 3 with an error-looking line is still the guest: only status 1 can be a failure', raw: { status: 7, signal: null }, stderr: [HOSTFWD], want: { status: 7, signal: null, stderr: HOSTFWD } },
  { name: 'guest exit 0 (status 1) with a warning', raw: { status: 1, signal: null }, stderr: [NINEP], want: { status: 1, signal: null, stderr: NINEP } },
  { name: 'guest exit 0 (status 1), nothing on stderr', raw: { status: 1, signal: null }, stderr: [], want: { status: 1, signal: null } },
  { name: 'QEMU could not load the kernel: status 1, error line, no console', raw: { status: 1, signal: null }, stderr: [NO_KERNEL], guestRan: false, want: { status: 1, signal: null, stderr: NO_KERNEL, vmmError: NO_KERNEL } },
  { name: 'a host port taken: status 1, error line', raw: { status: 1, signal: null }, stderr: [HOSTFWD], want: { status: 1, signal: null, stderr: HOSTFWD, vmmError: HOSTFWD } },
  { name: 'status 1 with an error line after the guest printed: the guest exited 0', raw: { status: 1, signal: null }, stderr: [HOSTFWD], guestRan: true, want: { status: 1, signal: null, stderr: HOSTFWD } },
  { name: 'a deprecation warning with a location is a warning', raw: { status: 1, signal: null }, stderr: [BAD_OPT], guestRan: false, want: { status: 1, signal: null, stderr: BAD_OPT } },
  { name: 'the shim could not run QEMU (127)', raw: { status: 127, signal: null }, stderr: ['cunik-shim: cannot run qemu-nope: No such file or directory'], want: { status: 127, signal: null, stderr: 'cunik-shim: cannot run qemu-nope: No such file or directory', vmmError: 'cunik-shim: cannot run qemu-nope: No such file or directory' } },
  { name: 'SIGTERM caught by QEMU (status 0) is SIGTERM', raw: { status: 0, signal: null }, stderr: [TERM], want: { status: null, signal: 'SIGTERM', stderr: TERM } },
  { name: 'SIGHUP caught by QEMU is SIGHUP', raw: { status: 0, signal: null }, stderr: [NINEP, HUP], want: { status: null, signal: 'SIGHUP', stderr: `${NINEP}\n${HUP}` } },
  { name: 'a plain status 0 (ACPI power-off) stays 0', raw: { status: 0, signal: null }, stderr: [], want: { status: 0, signal: null } },
  { name: 'killed by SIGKILL', raw: { status: null, signal: 'SIGKILL' }, stderr: [], want: { status: null, signal: 'SIGKILL' } },
  { name: 'the run marker is not stderr', raw: { status: 1, signal: null }, stderr: [`${RUN_MARKER} 2026-01-01T00:00:00.000Z`], want: { status: 1, signal: null } },
];

for (const c of cases) {
  test(`qemuExit: ${c.name}`, () => {
    assert.deepEqual(qemuExit(c.raw, c.stderr.map((l) => `${l}\n`).join(''), c.guestRan), c.want);
  });
}

test('qemuExit: the stderr kept for inspect is capped (the whole text stays in qemu.log)', () => {
  const long = Array.from({ length: 200 }, (_, i) => `qemu-system-x86_64: warning: line ${i} ${'x'.repeat(40)}`).join('\n');
  const out = qemuExit({ status: 7, signal: null }, long);
  assert.ok(out.stderr!.length <= 4096 + 3);
  assert.ok(out.stderr!.startsWith('...'));
  assert.ok(out.stderr!.endsWith(`line 199 ${'x'.repeat(40)}`));
});

test('qemuExit: the shim ended the VM because passt died: a VMM failure told with passt\'s lines', () => {
  const stderr = [
    `${RUN_MARKER} 2026-01-01T00:00:00.000Z`,
    'Failed to bind port 8080 (Address already in use) for option \'-t 8080:80\', exiting',
    'Failed to send 60 bytes to syslog',
    'cunik-shim: the network helper (passt) exited with status 1: ending the VM',
    '',
  ].join('\n');
  assert.deepEqual(qemuExit({ status: null, signal: 'SIGKILL' }, stderr, false).vmmError,
    "passt: Failed to bind port 8080 (Address already in use) for option '-t 8080:80', exiting; cunik-shim: the network helper (passt) exited with status 1: ending the VM");
});

test('qemuExit: the shim failed before QEMU ran (125, its own line)', () => {
  assert.equal(qemuExit({ status: 125, signal: null }, 'cunik-shim: socketpair: Too many open files\n').vmmError, 'cunik-shim: socketpair: Too many open files');
  assert.equal(qemuExit({ status: 125, signal: null }, '').vmmError, undefined, 'without a line, 125 is the guest\'s status');
});
