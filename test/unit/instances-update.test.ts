// update's pure parts (instances/update.ts, cli/commands/update.ts) and the stop signals a VM
// honours (instances/signals.ts), with the real family adapters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { updateRequest as cliUpdateRequest } from '../../src/cli/commands/update.js';
import { generic } from '../../src/families/generic.js';
import { linux } from '../../src/families/linux.js';
import type { ImageBootInfo } from '../../src/families/types.js';
import { checkImageMemory, instanceConfig } from '../../src/instances/boot-config.js';
import type { InstanceRecord } from '../../src/instances/record.js';
import { stopSignal } from '../../src/instances/signals.js';
import { updatedConfig, updateWarnings, type UpdateOptions } from '../../src/instances/update.js';

const boot = (family: string, labels: Record<string, string> = {}): ImageBootInfo => ({ family, boot: family === 'linux' ? 'pvh' : 'multiboot', kernelPath: '/i/kernel', initrdPath: '/i/initrd', args: ['/bin/app'], env: [], memoryMiB: 128, cpus: 1, labels });
const record = (family: string, labels: Record<string, string> = {}, extra: Partial<InstanceRecord['config']> = {}): Pick<InstanceRecord, 'config' | 'boot' | 'name'> => ({
  name: 'web',
  boot: boot(family, labels),
  config: { args: [], env: [], memoryMiB: 128, cpus: 1, autoRemove: false, restartPolicy: { name: 'no', maximumRetryCount: 0 }, network: 'none', ...extra },
});
const host = { cpus: 2 };

test('updatedConfig: what is given replaces the config, the rest stays', () => {
  const table: [string, UpdateOptions, Partial<InstanceRecord['config']>][] = [
    ['memory', { memoryMiB: 256 }, { memoryMiB: 256, cpus: 1 }],
    ['cpus up to the host', { cpus: 2 }, { memoryMiB: 128, cpus: 2 }],
    ['cpus over the host when overcommit is allowed', { cpus: 4, cpuOvercommit: true }, { cpus: 4, cpuOvercommit: true }],
    ['restart policy, retry count defaulted', { restartPolicy: { name: 'on-failure' } }, { restartPolicy: { name: 'on-failure', maximumRetryCount: 0 } }],
    ['restart policy back to no', { restartPolicy: { name: 'no' } }, { restartPolicy: { name: 'no', maximumRetryCount: 0 } }],
    ['all at once', { memoryMiB: 64, cpus: 2, restartPolicy: { name: 'always', maximumRetryCount: 0 } }, { memoryMiB: 64, cpus: 2, restartPolicy: { name: 'always', maximumRetryCount: 0 } }],
  ];
  for (const [name, opts, want] of table) {
    const r = record('generic');
    const got = updatedConfig(r, opts, generic, host);
    assert.deepEqual(got, { ...r.config, ...want }, name);
    assert.equal(r.config.memoryMiB, 128, `${name}: the record itself is not changed`);
  }
});

test('updatedConfig refuses what the next start would refuse, in one line', () => {
  const table: [string, Pick<InstanceRecord, 'config' | 'boot' | 'name'>, UpdateOptions, RegExp][] = [
    ['nothing given', record('generic'), {}, /^nothing to update: give memory, cpus or a restart policy$/],
    ["more vCPUs than the host's", record('generic'), { cpus: 3 }, /^cpus: 3 is more than this host's 2 CPUs: give --cpus 2 or fewer/],
    ["linux below the image's measured minimum, in the family's words", record('linux', { 'org.cunik.memory.min': '95' }), { memoryMiB: 64 }, /^linux: 64 MiB of memory is too little for this image: its kernel and initramfs need at least 95 MiB/],
    ["any family below the image's minimum", record('generic', { 'org.cunik.memory.min': '48' }), { memoryMiB: 32 }, /^memory: 32 MiB is below this image's minimum of 48 MiB: give -m 48m or more$/],
    ['a restart policy on an instance removed at its exit', record('generic', {}, { autoRemove: true }), { restartPolicy: { name: 'always' } }, /^conflicting options: instance web is removed when it exits \(--rm\)/],
  ];
  for (const [name, r, opts, re] of table) assert.throws(() => updatedConfig(r, opts, r.boot.family === 'linux' ? linux : generic, host), (e: Error) => re.test(e.message) && !e.message.includes('\n'), name);
  // At the minimum itself, and an instance already allowed to overcommit keeps that.
  assert.equal(updatedConfig(record('generic', { 'org.cunik.memory.min': '48' }), { memoryMiB: 48 }, generic, host).memoryMiB, 48);
  assert.equal(updatedConfig(record('generic', {}, { cpuOvercommit: true }), { cpus: 4 }, generic, host).cpus, 4);
});

test('updateWarnings: only a running VM whose memory or cpus changed is warned about', () => {
  const before = record('generic').config;
  const who = { name: 'web', family: 'generic' };
  assert.deepEqual(updateWarnings(before, { ...before, memoryMiB: 256 }, who, true), ['instance web is running: the new memory (256 MiB) applies at its next start (QEMU cannot change it while a generic guest runs)']);
  assert.deepEqual(updateWarnings(before, { ...before, memoryMiB: 256, cpus: 2 }, who, true), ['instance web is running: the new memory (256 MiB) and cpus (2) apply at its next start (QEMU cannot change them while a generic guest runs)']);
  assert.deepEqual(updateWarnings(before, { ...before, memoryMiB: 256 }, who, false), []);
  assert.deepEqual(updateWarnings(before, { ...before, restartPolicy: { name: 'always', maximumRetryCount: 0 } }, who, true), []);
  assert.deepEqual(updateWarnings(before, { ...before }, who, true), [], 'the same memory again changes nothing');
});

test('stop signals: the power button ones and SIGKILL, in any of kill\'s spellings; others refused', () => {
  const table: [string, string][] = [['SIGTERM', 'SIGTERM'], ['term', 'SIGTERM'], ['15', 'SIGTERM'], ['INT', 'SIGINT'], ['sigpwr', 'SIGPWR'], ['KILL', 'SIGKILL'], ['9', 'SIGKILL']];
  for (const [given, want] of table) assert.equal(stopSignal(given), want, given);
  assert.throws(() => stopSignal('SIGHUP'), /stop signal SIGHUP cannot be delivered to a unikernel guest: use SIGTERM, SIGINT or SIGPWR/);
  assert.throws(() => stopSignal('SIGBOGUS'), (e: Error) => e.message === 'invalid signal: SIGBOGUS');
  // create: the request's, else the image's; neither: nothing stored (SIGTERM and 10 s apply).
  assert.deepEqual(pick(instanceConfig({ image: 'x', stopSignal: 'kill', stopTimeout: 0 }, { memoryMiB: 64, cpus: 1, stopSignal: 'SIGINT', stopTimeout: 5 })), { stopSignal: 'SIGKILL', stopTimeout: 0 });
  assert.deepEqual(pick(instanceConfig({ image: 'x' }, { memoryMiB: 64, cpus: 1, stopSignal: 'SIGINT', stopTimeout: 5 })), { stopSignal: 'SIGINT', stopTimeout: 5 });
  assert.deepEqual(pick(instanceConfig({ image: 'x' }, { memoryMiB: 64, cpus: 1 })), {});
  assert.throws(() => instanceConfig({ image: 'x', stopSignal: 'USR1' }, { memoryMiB: 64, cpus: 1 }), (e: Error & { field?: string }) => e.field === 'stopSignal' && /SIGUSR1 cannot be delivered/.test(e.message));
});

const pick = (c: InstanceRecord['config']): Partial<InstanceRecord['config']> => ({ ...(c.stopSignal !== undefined && { stopSignal: c.stopSignal }), ...(c.stopTimeout !== undefined && { stopTimeout: c.stopTimeout }) });

test("checkImageMemory: the image's org.cunik.memory.min label, none without it", () => {
  assert.doesNotThrow(() => checkImageMemory(4, {}));
  assert.doesNotThrow(() => checkImageMemory(4, undefined));
  assert.doesNotThrow(() => checkImageMemory(95, { 'org.cunik.memory.min': '95' }));
  assert.throws(() => checkImageMemory(94, { 'org.cunik.memory.min': '95' }), /below this image's minimum of 95 MiB/);
});

test('cunik update: the request its flags make, and nothing asked refused', () => {
  assert.deepEqual(cliUpdateRequest({ memory: 96, cpus: 2, restart: { name: 'on-failure', maximumRetryCount: 3 } }), { memoryMiB: 96, cpus: 2, restartPolicy: { name: 'on-failure', maximumRetryCount: 3 } });
  assert.deepEqual(cliUpdateRequest({ cpus: 4, cpuOvercommit: true }), { cpus: 4, cpuOvercommit: true });
  assert.throws(() => cliUpdateRequest({}), (e: Error) => e.message === 'nothing to update: give --memory, --cpus or --restart');
});
