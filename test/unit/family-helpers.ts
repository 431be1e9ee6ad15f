// Shared by the family-*.test.ts files: a base image/instance and the "interesting" part of the
// QEMU argv a family's BootSpec produces (machine, firmware, kernel, command line, devices, exit
// device), without the parts every VM shares (name, accel, memory, console, QMP, pidfile).
import assert from 'node:assert/strict';
import { CunikError } from '../../src/errors.js';
import type { FamilyAdapter, ImageBootInfo, InstanceBootConfig } from '../../src/families/types.js';
import { QBOOT_ROM, qemuArgv } from '../../src/vmm/qemu/argv.js';
import type { BootSpec, VmPaths } from '../../src/vmm/types.js';

export const DIR = '/var/lib/cunik/instances/abc';
export const paths: VmPaths = {
  dir: DIR,
  pidfile: `${DIR}/qemu.pid`,
  qmpSocket: `${DIR}/qmp.sock`,
  consoleLog: `${DIR}/console.log`,
  consoleSocket: `${DIR}/console.sock`,
};

export const image = (family: string, patch: Partial<ImageBootInfo> = {}): ImageBootInfo => ({
  family,
  boot: 'multiboot',
  args: [],
  env: [],
  memoryMiB: 64,
  cpus: 1,
  labels: {},
  ...patch,
});

export const instance = (patch: Partial<InstanceBootConfig> = {}): InstanceBootConfig => ({ args: [], env: [], ...patch });

export const userNet = (ip?: { ip: string; prefix: number; gateway?: string; dns?: string[] }): NonNullable<InstanceBootConfig['networks']>[number] => ({
  nic: { backend: { type: 'user', hostfwd: [{ proto: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestPort: 80 }] } },
  ...ip,
});

const SHARED = new Set(['-nodefaults', '-no-user-config', '-no-reboot']);
const SHARED_WITH_VALUE = new Set(['-display', '-name', '-accel', '-cpu', '-m', '-smp', '-chardev', '-serial', '-qmp', '-pidfile']);

/** The argv (TCG, qboot offered as the driver does) without what every VM shares. */
export function core(spec: BootSpec): string[] {
  const argv = qemuArgv(spec, paths, 'tcg', { bios: QBOOT_ROM });
  assert.equal(argv[0], 'qemu-system-x86_64');
  const out: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    if (SHARED.has(argv[i]!)) continue;
    if (argv[i] === '-machine' && argv[i + 1] === 'mem-merge=off') {
      i++;
      continue;
    }
    if (SHARED_WITH_VALUE.has(argv[i]!)) {
      i++;
      continue;
    }
    out.push(argv[i]!);
  }
  return out;
}

export interface Case {
  name: string;
  image?: Partial<ImageBootInfo>;
  instance?: Partial<InstanceBootConfig>;
  /** Fields the BootSpec must have (deepEqual each). */
  spec?: Partial<BootSpec>;
  /** The core argv, exactly. */
  argv?: string[];
  /** Or: bootSpec throws INVALID_ARGUMENT matching this. */
  throws?: RegExp;
}

export function runCases(adapter: FamilyAdapter, cases: Case[], t: { test: (name: string, fn: () => void) => unknown }): void {
  for (const c of cases) {
    t.test(`${adapter.name}: ${c.name}`, () => {
      const img = image(adapter.name, c.image);
      const inst = instance(c.instance);
      if (c.throws) {
        assert.throws(() => adapter.bootSpec(img, inst), (e: unknown) => e instanceof CunikError && e.code === 'INVALID_ARGUMENT' && c.throws!.test(e.message));
        return;
      }
      const snapshot = JSON.stringify([img, inst]);
      const spec = adapter.bootSpec(img, inst);
      assert.equal(JSON.stringify([img, inst]), snapshot, 'bootSpec must not modify its inputs');
      for (const [key, value] of Object.entries(c.spec ?? {})) assert.deepEqual(spec[key as keyof BootSpec], value, key);
      if (c.argv) assert.deepEqual(core(spec), c.argv);
    });
  }
}
