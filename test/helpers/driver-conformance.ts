// The VmmDriver conformance suite (containerd's testsuite pattern): one set of behaviours every
// driver must show, run against a real driver with real VMs. A test file calls
// describeDriverConformance(name, makeDriver) once per driver; makeDriver() is called again
// wherever the suite plays "the daemon restarted" (a new driver instance that never saw the VM).
//
// The guests are the project's test kernels (docs/test-kernels.md) booted as the generic family
// boots them, so what a VmExit means is read through that family's exit rule (families/exit.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { exitStatusOf } from '../../src/families/exit.js';
import { familyAdapter } from '../../src/families/index.js';
import type { BootSpec, DiskSpec, VmExit, VmHandle, VmmDriver, VmPaths } from '../../src/vmm/types.js';
import { helloKernel } from './daemon.js';
import { alive, waitUntil, within } from './wait.js';

export interface ConformanceOptions {
  /** Accelerator to run the guests with. Default tcg (the development machines' KVM is broken). */
  accel?: 'kvm' | 'tcg';
}

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const read = (p: string): string => (existsSync(p) ? readFileSync(p, 'utf8') : '');

/** The exit code an instance of the generic family would record for this VmExit. */
const code = (exit: VmExit) => exitStatusOf(familyAdapter('generic'), exit);

export function describeDriverConformance(name: string, makeDriver: () => VmmDriver, opts: ConformanceOptions = {}): void {
  const accel = opts.accel ?? 'tcg';
  describe(`VmmDriver conformance: ${name}`, () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cunik-conformance-'));
    const drivers: VmmDriver[] = [];
    const handles: VmHandle[] = [];
    // Drivers unref their VMs (a daemon must not be kept alive by them): keep the loop alive.
    const keepAlive = setInterval(() => undefined, 60_000);
    const driver = (): VmmDriver => {
      const d = makeDriver();
      drivers.push(d);
      return d;
    };
    const main = driver();

    after(async () => {
      clearInterval(keepAlive);
      for (const h of handles) h.kill('SIGKILL');
      await Promise.all(handles.map((h) => within(h.exited, 10_000, 'cleanup exit').catch(() => undefined)));
      for (const d of drivers) d.close?.();
      const left = spawnSync('pgrep', ['-f', tmp], { encoding: 'utf8' }).stdout.trim();
      rmSync(tmp, { recursive: true, force: true });
      assert.equal(left, '', 'no VM process may remain');
    });

    let n = 0;
    const vmPaths = (): VmPaths => {
      const dir = join(tmp, `vm${n++}`);
      mkdirSync(dir);
      return {
        dir,
        pidfile: join(dir, 'vm.pid'),
        qmpSocket: join(dir, 'ctl.sock'),
        consoleLog: join(dir, 'console.log'),
        consoleSocket: join(dir, 'console.sock'),
        vmmLog: join(dir, 'vmm.log'),
        exitFile: join(dir, 'exit'),
      };
    };
    const spec = (cmdline: string, over: Partial<BootSpec> = {}): BootSpec => ({
      machine: 'microvm',
      kernel: helloKernel,
      cmdline,
      disks: [],
      memoryMiB: 32,
      cpus: 1,
      powerdown: 'none',
      debugExit: true,
      ...over,
    });
    const start = async (d: VmmDriver, s: BootSpec, p: VmPaths): Promise<VmHandle> => {
      const h = await d.start(s, p, accel);
      handles.push(h);
      return h;
    };
    const adopted = (h: VmHandle | undefined): VmHandle => {
      assert.ok(h, 'adopt found the VM');
      handles.push(h);
      return h;
    };

    test('start → the guest runs and its exit code comes back', async () => {
      const p = vmPaths();
      const h = await start(main, spec('exit=3'), p);
      assert.ok(h.pid > 0);
      const exit = await within(h.exited, 20_000, 'exit');
      assert.deepEqual(code(exit), { code: 3, known: true });
      assert.match(read(p.consoleLog), /cmdline: exit=3/, 'the console is written by the VMM itself');
      await waitUntil(() => !alive(h.pid), 5000, 'the VM process to be gone');
    });

    test('stop: a guest that cannot be asked to shut down is ended within the timeout and says how', async () => {
      const p = vmPaths();
      const h = await start(main, spec('idle'), p);
      await waitUntil(() => read(p.consoleLog).includes('ready'), 20_000, 'ready');
      const t0 = Date.now();
      const exit = await within(main.stop(h, 300), 10_000, 'stop');
      assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
      assert.ok(exit.signal !== null || exit.status !== null, JSON.stringify(exit));
      await waitUntil(() => !alive(h.pid), 5000, 'the VM process to be gone');
    });

    test('stop of a VM that already exited resolves at once with its exit', async () => {
      const p = vmPaths();
      const h = await start(main, spec('exit=2'), p);
      await within(h.exited, 20_000, 'exit');
      assert.equal(code(await within(main.stop(h, 5000), 1000, 'stop')).code, 2);
    });

    test('kill: SIGKILL ends the VM and the exit says so (137)', async () => {
      const p = vmPaths();
      const h = await start(main, spec('idle'), p);
      await waitUntil(() => read(p.consoleLog).includes('ready'), 20_000, 'ready');
      h.kill('SIGKILL');
      const exit = await within(h.exited, 10_000, 'exit');
      assert.equal(exit.signal, 'SIGKILL');
      assert.equal(code(exit).code, 137);
    });

    test('a signal from outside (SIGTERM to the VM process) is recorded as 128 + signal', async () => {
      const p = vmPaths();
      const h = await start(main, spec('idle'), p);
      await waitUntil(() => read(p.consoleLog).includes('ready') && read(p.pidfile).trim() !== '', 20_000, 'ready');
      const vmPid = Number(read(p.pidfile));
      process.kill(vmPid, 'SIGTERM');
      assert.equal(code(await within(h.exited, 10_000, 'exit')).code, 143);
      const q = vmPaths();
      const g = await start(main, spec('idle'), q);
      await waitUntil(() => read(q.consoleLog).includes('ready') && read(q.pidfile).trim() !== '', 20_000, 'ready');
      process.kill(Number(read(q.pidfile)), 'SIGHUP');
      assert.equal(code(await within(g.exited, 10_000, 'exit')).code, 129);
    });

    test('adopt after a daemon restart: a new driver finds the VM, controls it and gets its real exit code', async () => {
      const p = vmPaths();
      const h = await start(main, spec('echo'), p);
      await waitUntil(() => read(p.consoleLog).includes('echo: ready'), 20_000, 'echo: ready');
      const restarted = driver();
      assert.equal(restarted.adopt(h.pid + 100_000, p), undefined, 'no such process');
      assert.equal(restarted.adopt(process.pid, p), undefined, 'a live process that is not this VM');
      const a = adopted(restarted.adopt(h.pid, p));
      assert.equal(a.pid, h.pid);
      await within(a.ready(), 10_000, 'adopted ready');
      // The guest exits with 5 on its own; the adopting driver reads how from the VMM's parent.
      const sock = createConnection({ path: p.consoleSocket });
      await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
      sock.write('exit=5\n');
      const exit = await within(a.exited, 20_000, 'adopted exit');
      sock.destroy();
      assert.deepEqual(code(exit), { code: 5, known: true });
    });

    test('adopt: an adopted VM can be stopped and killed', async () => {
      const p = vmPaths();
      const h = await start(main, spec('idle'), p);
      await waitUntil(() => read(p.consoleLog).includes('ready'), 20_000, 'ready');
      const a = adopted(driver().adopt(h.pid, p));
      await within(driver().stop(a, 0), 10_000, 'stop of an adopted VM');
      await waitUntil(() => !alive(h.pid), 5000, 'the VM process to be gone');

      const q = vmPaths();
      const g = await start(main, spec('idle'), q);
      await waitUntil(() => read(q.consoleLog).includes('ready'), 20_000, 'ready');
      const b = adopted(driver().adopt(g.pid, q));
      b.kill('SIGKILL');
      assert.equal(code(await within(b.exited, 10_000, 'exit')).code, 137);
    });

    test('recorded exit: a VM that ended while no driver watched keeps its exit code', async () => {
      const p = vmPaths();
      const h = await start(main, spec('exit=4'), p);
      await within(h.exited, 20_000, 'exit');
      await waitUntil(() => !alive(h.pid), 5000, 'the VM process to be gone');
      const later = driver();
      assert.equal(later.adopt(h.pid, p), undefined, 'a VM that is gone cannot be adopted');
      const exit = later.recordedExit(p);
      assert.ok(exit, 'the exit was recorded');
      assert.deepEqual(code(exit), { code: 4, known: true });

      const q = vmPaths();
      const g = await start(main, spec('idle'), q);
      await waitUntil(() => read(q.consoleLog).includes('ready'), 20_000, 'ready');
      g.kill('SIGTERM');
      await within(g.exited, 10_000, 'exit');
      assert.equal(code(driver().recordedExit(q)!).code, 143, 'ended by SIGTERM');
      assert.equal(driver().recordedExit(vmPaths()), undefined, 'nothing recorded for a VM never started');
    });

    test('killStrays: VMs of the given instances are ended, others are left alone', async () => {
      const stray = vmPaths();
      const keep = vmPaths();
      const s = await start(main, spec('idle'), stray);
      const k = await start(main, spec('idle'), keep);
      await waitUntil(() => read(stray.consoleLog).includes('ready') && read(keep.consoleLog).includes('ready'), 20_000, 'ready');
      const vmPid = Number(read(stray.pidfile));
      assert.equal(driver().killStrays([stray, vmPaths()]), 1);
      const exit = await within(s.exited, 10_000, 'stray exit');
      assert.equal(code(exit).code, 137);
      await waitUntil(() => !alive(vmPid), 5000, 'the stray VM process to be gone');
      assert.ok(alive(k.pid), 'the other VM still runs');
      assert.equal(driver().killStrays([]), 0);
      k.kill('SIGKILL');
      await within(k.exited, 10_000, 'exit');
    });

    test('disks: a copy-on-write overlay is made once, the VM boots with it, the backing file is never written, removeDisks drops it', async () => {
      const p = vmPaths();
      const backing = join(p.dir, 'image.raw');
      writeFileSync(backing, Buffer.alloc(1024 * 1024, 0x5a));
      const before = sha(backing);
      const disk: DiskSpec = { path: 'disk.qcow2', format: 'qcow2', readonly: false, overlay: { backing, backingFormat: 'raw' } };
      const s = spec('exit=0', { disks: [disk] });
      const overlay = join(p.dir, 'disk.qcow2');
      assert.deepEqual(await main.prepareDisks(s, p), [overlay]);
      const ino = statSync(overlay).ino;
      assert.deepEqual(await driver().prepareDisks(s, p), [], 'an existing overlay is kept (restarts keep the writable layer)');
      assert.equal(statSync(overlay).ino, ino);
      assert.deepEqual(await main.prepareDisks(spec('exit=0'), p), [], 'a spec without overlays makes none');
      const h = await start(main, s, p);
      assert.deepEqual(code(await within(h.exited, 20_000, 'exit')), { code: 0, known: true });
      assert.equal(sha(backing), before);
      await main.removeDisks(s, p);
      assert.equal(existsSync(overlay), false);
      assert.equal(existsSync(backing), true, 'removeDisks never touches the backing file');
      await main.removeDisks(s, p); // idempotent
    });

    test('disks: a backing file that cannot be read fails prepareDisks with a sentence and leaves no file', async () => {
      const p = vmPaths();
      const s = spec('exit=0', { disks: [{ path: 'disk.qcow2', format: 'qcow2', readonly: false, overlay: { backing: join(p.dir, 'missing.raw'), backingFormat: 'raw' } }] });
      await assert.rejects(main.prepareDisks(s, p), /cannot create the instance's disk overlay/);
      assert.equal(existsSync(join(p.dir, 'disk.qcow2')), false);
    });
  });
}
