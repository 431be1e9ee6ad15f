// One range per number, at every entry point: the CLI's flags, the API's schemas, the Cunikfile,
// image import options and image labels accept the limit and refuse one past it, and vCPUs above
// the host's count are refused at create and at start unless overcommitted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from 'typebox/value';
import { cpusOverHost, LIMITS } from '../../src/api/limits.js';
import { CreateInstanceRequest, ImportQuery, StopQuery, UpdateInstanceRequest } from '../../src/api/schemas.js';
import { CreateVolumeRequest } from '../../src/api/volumes.js';
import { parseCunikfile } from '../../src/build/cunikfile.js';
import { parseCpus, parseMemoryMiB, parsePublish, parseRestartPolicy, parseSeconds, parseSizeBytes, parseTail } from '../../src/cli/parse.js';
import { validateImportOptions } from '../../src/images/build.js';
import { cunikMeta } from '../../src/images/oci.js';
import { bootConfig, instanceConfig, networkSettings } from '../../src/instances/boot-config.js';
import { parseLogsOptions } from '../../src/instances/logs.js';

const accepts = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

function metaOf(labels: Record<string, string>, extra: Record<string, unknown> = {}): ReturnType<typeof cunikMeta> {
  const config = { architecture: 'amd64', os: 'linux', config: { Labels: { 'org.cunik.family': 'generic', 'org.cunik.boot': 'multiboot', ...labels }, ...extra }, rootfs: { type: 'layers', diff_ids: [] } } as unknown as Parameters<typeof cunikMeta>[0];
  return cunikMeta(config, { schemaVersion: 2, layers: [] } as unknown as Parameters<typeof cunikMeta>[1], 'img');
}

function labelled(labels: Record<string, string>): boolean {
  return accepts(() => metaOf(labels));
}

/** Every entry point that takes the number, as (value) → accepted? */
const entryPoints: Record<string, [string, (n: number) => boolean][]> = {
  cpus: [
    ['cunik run --cpus', (n) => accepts(() => parseCpus(String(n)))],
    ['POST /instances cpus', (n) => Value.Check(CreateInstanceRequest, { image: 'x', cpus: n })],
    ['POST /images/import cpus', (n) => Value.Check(ImportQuery, { ref: 'x', family: 'generic', cpus: n })],
    ['import options', (n) => accepts(() => validateImportOptions({ family: 'generic', cpus: n }, ['generic']))],
    ['Cunikfile cpus', (n) => accepts(() => parseCunikfile(`family: generic\nkernel: k\ncpus: ${n}`))],
    ['label org.cunik.cpus', (n) => labelled({ 'org.cunik.cpus': String(n) })],
    ['POST /instances/{id}/update cpus', (n) => Value.Check(UpdateInstanceRequest, { cpus: n })],
  ],
  memoryMiB: [
    ['cunik run -m', (n) => accepts(() => parseMemoryMiB(`${n}m`))],
    ['POST /instances memoryMiB', (n) => Value.Check(CreateInstanceRequest, { image: 'x', memoryMiB: n })],
    ['POST /images/import memoryMiB', (n) => Value.Check(ImportQuery, { ref: 'x', family: 'generic', memoryMiB: n })],
    ['import options', (n) => accepts(() => validateImportOptions({ family: 'generic', memoryMiB: n }, ['generic']))],
    ['Cunikfile memory (MiB)', (n) => accepts(() => parseCunikfile(`family: generic\nkernel: k\nmemory: ${n}`))],
    ['Cunikfile memory (text)', (n) => accepts(() => parseCunikfile(`family: generic\nkernel: k\nmemory: ${n}M`))],
    ['label org.cunik.memory', (n) => labelled({ 'org.cunik.memory': String(n) })],
    ['POST /instances/{id}/update memoryMiB', (n) => Value.Check(UpdateInstanceRequest, { memoryMiB: n })],
  ],
  guestPort: [
    ['cunik run -p', (n) => accepts(() => parsePublish(String(n)))],
    ['POST /instances ports', (n) => Value.Check(CreateInstanceRequest, { image: 'x', ports: [{ guestPort: n }] })],
    ['Cunikfile ports', (n) => accepts(() => parseCunikfile(`family: generic\nkernel: k\nports: [${n}]`))],
    ['Cunikfile ports (text)', (n) => accepts(() => parseCunikfile(`family: generic\nkernel: k\nports: ["${n}/udp"]`))],
  ],
  restartRetries: [
    ['cunik run --restart on-failure:N', (n) => accepts(() => parseRestartPolicy(`on-failure:${n}`))],
    ['POST /instances restartPolicy', (n) => Value.Check(CreateInstanceRequest, { image: 'x', restartPolicy: { name: 'on-failure', maximumRetryCount: n } })],
  ],
  stopTimeoutSeconds: [
    ['cunik stop -t', (n) => accepts(() => parseSeconds(String(n)))],
    ['POST /instances/{id}/stop?t', (n) => Value.Check(StopQuery, { t: n })],
    ['POST /instances stopTimeout (run --stop-timeout: parseSeconds)', (n) => Value.Check(CreateInstanceRequest, { image: 'x', stopTimeout: n })],
    ['Cunikfile stop_timeout', (n) => accepts(() => parseCunikfile(`family: generic\nkernel: k\nstop_timeout: ${n}`))],
    // An image's StopTimeout out of range is not kept (the default applies), rather than the image refused.
    ['image config StopTimeout', (n) => metaOf({}, { StopTimeout: n }).stopTimeout === n],
  ],
  tailLines: [
    ['cunik logs -n', (n) => accepts(() => parseTail(String(n)))],
    ['GET /instances/{id}/logs?tail', (n) => accepts(() => parseLogsOptions({ tail: String(n) }, Date.now()))],
  ],
  volumeSizeBytes: [
    ['cunik volume create --size', (n) => accepts(() => parseSizeBytes(String(n)))],
    ['POST /volumes sizeBytes', (n) => Value.Check(CreateVolumeRequest, { sizeBytes: n })],
  ],
};

for (const [name, points] of Object.entries(entryPoints)) {
  const r = LIMITS[name as keyof typeof LIMITS];
  test(`${name}: every entry point takes ${r.min} to ${r.max} and nothing outside`, () => {
    for (const [where, takes] of points) {
      assert.equal(takes(r.min), true, `${where} refuses the minimum ${r.min}`);
      assert.equal(takes(r.max), true, `${where} refuses the maximum ${r.max}`);
      assert.equal(takes(r.max + 1), false, `${where} takes ${r.max + 1}`);
      if (r.min > 0) assert.equal(takes(r.min - 1), false, `${where} takes ${r.min - 1}`);
    }
  });
}

test("an image config's StopSignal is kept when a VM honours it, in Docker's spellings", () => {
  assert.equal(metaOf({}, { StopSignal: 'SIGKILL' }).stopSignal, 'SIGKILL');
  assert.equal(metaOf({}, { StopSignal: 'int' }).stopSignal, 'SIGINT');
  assert.equal(metaOf({}, { StopSignal: 'SIGQUIT' }).stopSignal, undefined, "nginx's SIGQUIT: stopped by the power button as any image");
  assert.equal(metaOf({}).stopSignal, undefined);
});

test('no more vCPUs than host CPUs unless overcommitted: at create and at every start', () => {
  assert.equal(cpusOverHost(2, 2, false), undefined);
  assert.match(cpusOverHost(3, 2, false) ?? '', /^more than this host's 2 CPUs: give --cpus 2 or fewer \(or --cpu-overcommit to allow it\)$/);
  assert.equal(cpusOverHost(200, 2, true), undefined);

  const image = { memoryMiB: 64, cpus: 200 };
  const host = { cpus: 2 };
  assert.throws(() => instanceConfig({ image: 'x' }, image, host), /: the image asks for 200 virtual CPUs, more than this host's 2 CPUs: give --cpus 2 or fewer/);
  assert.throws(() => instanceConfig({ image: 'x', cpus: 3 }, image, host), (e: Error & { field?: string }) => /^cpus: 3 is more than this host's 2 CPUs/.test(e.message) && e.field === 'cpus');
  assert.equal(instanceConfig({ image: 'x', cpus: 2 }, image, host).cpus, 2);
  const forced = instanceConfig({ image: 'x', cpuOvercommit: true }, image, host);
  assert.equal(forced.cpus, 200);

  // A record made before the rule (or on a bigger host) is refused at its next start, not booted.
  const old = { ...instanceConfig({ image: 'x', cpus: 8 }, image, { cpus: 16 }) };
  assert.throws(() => bootConfig(old, networkSettings(old, []), host), /cpus: 8 is more than this host's 2 CPUs/);
  assert.equal(bootConfig(forced, networkSettings(forced, []), host).cpus, 200);
});
