// The console-exit hook (FamilyAdapter.exitFromConsole) as the instances layer applies it, with a
// real instance service, stores, QEMU under cunik-shim and a guest that behaves as Rumprun's do:
// the test kernel without isa-debug-exit prints `exit: N` and halts forever, never ending QEMU.
// The instance must be seen as exited with N within a second of the line, and `rm` (--rm) follow.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { familyAdapter, familyNames } from '../../src/families/index.js';
import { generic } from '../../src/families/generic.js';
import type { FamilyAdapter } from '../../src/families/types.js';
import { ImageStore } from '../../src/images/store.js';
import { InstanceService } from '../../src/instances/service.js';
import { InstanceStore } from '../../src/instances/store.js';
import { QemuDriver } from '../../src/vmm/qemu/driver.js';
import { helloKernel, repo, waitFor } from '../helpers/daemon.js';

/** The generic family, except that its guests halt after printing `exit: N` (no isa-debug-exit). */
const halting: FamilyAdapter = {
  ...generic,
  name: 'halting',
  bootSpec: (image, instance) => ({ ...generic.bootSpec(image, instance), debugExit: false }),
  exitFromConsole: (line) => {
    const m = /^exit: (\d+)$/.exec(line);
    return m ? { code: Number(m[1]) } : undefined;
  },
};

const root = mkdtempSync(join(tmpdir(), 'cunik-console-exit-'));
const bin = join(repo, 'build', 'bin');
const driver = new QemuDriver({ shim: join(bin, 'cunik-shim'), spawner: join(bin, 'cunik-spawner') });
const store = new InstanceStore(root);
let svc: InstanceService;
// The driver unrefs its VMs: keep the loop alive while the tests wait for them.
const keepAlive = setInterval(() => undefined, 60_000);

before(async () => {
  const images = new ImageStore(root, { knownFamilies: [...familyNames(), 'halting'] });
  await images.importKernel(helloKernel, 'halts', { family: 'halting' });
  await images.importKernel(helloKernel, 'hello', { family: 'generic' });
  svc = new InstanceService({
    store,
    images,
    driver,
    family: (name) => (name === 'halting' ? halting : familyAdapter(name)),
    accelerator: async () => ({ accel: 'tcg', reason: 'test' }),
  });
  await svc.init();
});
after(async () => {
  clearInterval(keepAlive);
  await svc.shutdownAll(0);
  driver.close();
  rmSync(root, { recursive: true, force: true });
});

test('a guest that halts after printing its exit line is seen as exited with that code, within a second', { timeout: 90_000 }, async () => {
  const r = await svc.run({ image: 'halts', name: 'h3', args: ['exit=3'], network: 'none' });
  const consoleLog = svc.paths(r.id).consoleLog;
  await waitFor('the exit line', () => readFileSync(consoleLog, 'utf8').includes('exit: 3\n') || undefined, 60_000);
  const seen = Date.now();
  const code = await svc.wait(r.id);
  assert.ok(Date.now() - seen < 1000, `exited ${Date.now() - seen} ms after the line`);
  assert.equal(code, 3);
  const info = svc.get('h3');
  assert.deepEqual([info.state, info.exitCode, info.exitCodeKnown, info.exitSource], ['exited', 3, true, 'console']);
  assert.equal(driver.adopt(r.supervisorPid ?? 0, svc.paths(r.id)), undefined, 'no VM left');
});

test('--rm: the halted instance is removed once its exit line is seen; its next run reads only its own console', { timeout: 90_000 }, async () => {
  const r = await svc.run({ image: 'halts', name: 'gone', args: ['exit=0'], network: 'none', autoRemove: true });
  const dir = svc.paths(r.id).dir;
  assert.equal(await svc.wait(r.id), 0);
  await waitFor('gone removed', () => (!existsSync(dir) && !svc.list(true).some((i) => i.name === 'gone')) || undefined, 10_000);

  // A restarted instance: the earlier run's exit line must not end the new run.
  const again = await svc.run({ image: 'halts', name: 'twice', args: ['exit=5'], network: 'none' });
  assert.equal(await svc.wait(again.id), 5);
  await svc.start('twice');
  const exitLines = (): number => readFileSync(svc.paths(again.id).consoleLog, 'utf8').split('exit: 5\n').length - 1;
  const status = svc.get('twice');
  // On a loaded host the new run can boot, print and halt before this line; then its exit must come
  // from its own exit line (two in the console), never from the earlier run's alone.
  if (status.state !== 'running') assert.equal(exitLines(), 2, `state ${status.state} with only the earlier run's exit line`);
  assert.equal(await svc.wait(again.id), 5);
  assert.equal(exitLines(), 2);
  assert.equal(svc.get('twice').exitSource, 'console');
});

test('families without the hook are not watched: the generic guest exits through isa-debug-exit (source guest)', { timeout: 90_000 }, async () => {
  const r = await svc.run({ image: 'hello', name: 'plain', args: ['exit=4'], network: 'none' });
  assert.equal(await svc.wait(r.id), 4);
  assert.equal(svc.get('plain').exitSource, 'guest');
});
