// The QMP client against real QEMU (TCG): handshake, commands, errors, events.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { QemuDriver } from '../../src/vmm/qemu/driver.js';
import { QmpClient, QmpError, type QmpEvent } from '../../src/vmm/qemu/qmp.js';
import type { VmHandle } from '../../src/vmm/types.js';

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, 'scripts', 'build-kernels.sh'))) return d;
    const up = dirname(d);
    if (up === d) return process.cwd();
    d = up;
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'cunik-qemu-qmp-'));
const handles: VmHandle[] = [];
// The driver unrefs QEMU (a daemon must not be kept alive by its VMs); keep the loop alive while
// tests await exits.
const keepAlive = setInterval(() => undefined, 60_000);
after(async () => {
  clearInterval(keepAlive);
  for (const h of handles) h.kill('SIGKILL');
  await Promise.all(handles.map((h) => h.exited));
  rmSync(tmp, { recursive: true, force: true });
});

test('qmp against QEMU: query-status, stop/cont with STOP/RESUME events, errors, SHUTDOWN on quit', async () => {
  const paths = {
    dir: tmp,
    pidfile: join(tmp, 'qemu.pid'),
    qmpSocket: join(tmp, 'qmp.sock'),
    consoleLog: join(tmp, 'console.log'),
    consoleSocket: join(tmp, 'console.sock'),
  };
  const kernel = join(repoRoot(), 'build', 'kernels', 'hello.elf');
  const h = await new QemuDriver().start(
    { machine: 'microvm', kernel, cmdline: 'idle', disks: [], memoryMiB: 32, cpus: 1, powerdown: 'none', debugExit: true },
    paths,
    'tcg',
  );
  handles.push(h);
  // Connect straight after spawn: the socket appears a little later, connect retries.
  const qmp = await QmpClient.connect(paths.qmpSocket, { timeoutMs: 10_000 });
  assert.equal(typeof qmp.greeting.QMP, 'object');
  const events: QmpEvent[] = [];
  qmp.on('event', (e: QmpEvent) => events.push(e));

  assert.deepEqual(await qmp.execute('query-status'), { status: 'running', singlestep: false, running: true });
  await qmp.execute('stop');
  assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'paused');
  await qmp.execute('cont');
  assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'running');
  await assert.rejects(qmp.execute('no-such-command'), (e: unknown) => e instanceof QmpError && e.qmpClass === 'CommandNotFound' && /no-such-command/.test(e.message));
  await assert.rejects(qmp.execute('human-monitor-command', {}), QmpError);

  const closed = once(qmp, 'close');
  await qmp.execute('quit');
  await closed;
  assert.deepEqual(await h.exited, { status: 0, signal: null });
  assert.deepEqual(events.map((e) => e.event), ['STOP', 'RESUME', 'SHUTDOWN']);
  assert.equal(events[2]?.data?.['reason'], 'host-qmp-quit');
});
