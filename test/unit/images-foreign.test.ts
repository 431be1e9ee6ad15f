// The pure mapping from other tools' image layouts (KraftKit, urunc) to Cunik's boot facts
// (src/images/foreign.ts), the index platform choice, and cunik/boot.json's format.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootFile, parseBootFile } from '../../src/images/boot-file.js';
import { kraftkitImage, parseUruncJson, rootfsPath, uruncAnnotations, uruncImage } from '../../src/images/foreign.js';
import { pickPlatform, type Descriptor, type ImageConfig, type Manifest } from '../../src/images/oci.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const config = (over: Partial<ImageConfig> & { config?: ImageConfig['config'] } = {}): ImageConfig =>
  ({ architecture: 'x86_64', os: 'qemu', rootfs: { type: 'layers', diff_ids: [D('a')] }, ...over }) as ImageConfig;
const manifest = (layerAnn?: Record<string, string>, ann?: Record<string, string>): Manifest => ({
  schemaVersion: 2,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('c'), size: 2 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: D('a'), size: 10, ...(layerAnn && { annotations: layerAnn }) }],
  ...(ann && { annotations: ann }),
});

test('rootfsPath: absolute or relative names in the root filesystem to clean layer paths; escapes refused', () => {
  const ok: [string, string][] = [
    ['/unikraft/bin/kernel', 'unikraft/bin/kernel'],
    ['unikernel/kernel', 'unikernel/kernel'],
    ['//a/./b/', 'a/b'],
  ];
  for (const [raw, want] of ok) assert.equal(rootfsPath(raw, 'p'), want, raw);
  const bad: [unknown, RegExp][] = [
    ['/unikernel/../../etc/passwd', /p "\/unikernel\/\.\.\/\.\.\/etc\/passwd" points outside the image's root filesystem \(\.\.\)$/],
    ['..', /points outside/],
    ['/', /names the root directory, not a file/],
    ['', /must be a path in the image/],
    [42, /must be a path in the image, got 42/],
    ['a\0b', /control character or backslash/],
    ['a\\..\\b', /control character or backslash/],
    ['/' + 'x'.repeat(2000), /longer than 1024 characters/],
  ];
  for (const [raw, re] of bad) assert.throws(() => rootfsPath(raw, 'p'), re, String(raw));
});

test('KraftKit: kernel and initrd paths from the layer annotations, Cmd as args, platform and architecture checked', () => {
  const k = kraftkitImage(config({ config: { Cmd: ['-a', 'b c'] } }), manifest({ 'org.unikraft.kernel.image': '/unikraft/bin/kernel' }, { 'org.unikraft.kernel.version': '0.16.3' }), 'img')!;
  assert.deepEqual(k, {
    format: 'kraftkit',
    labels: { 'org.cunik.family': 'unikraft', 'org.cunik.args': '["-a","b c"]', 'org.cunik.image-format': 'kraftkit', 'org.cunik.unikraft.version': '0.16.3' },
    files: { kernel: 'unikraft/bin/kernel', initrd: 'unikraft/bin/initrd' },
    optional: ['initrd'],
  });
  // Recognised by KraftKit's manifest annotations alone; the well-known path then.
  assert.equal(kraftkitImage(config(), manifest(undefined, { 'sh.kraftkit.version': '0.9' }), 'img')?.files.kernel, 'unikraft/bin/kernel');
  assert.equal(kraftkitImage(config({ architecture: 'amd64', os: 'kvm' }), manifest({ 'org.unikraft.kernel.image': '/boot/k' }), 'img')?.files.kernel, 'boot/k');
  assert.equal(kraftkitImage(config(), manifest(), 'img'), undefined, 'not KraftKit\'s');
  const bad: [ImageConfig, Manifest, RegExp][] = [
    [config({ os: 'fc' }), manifest({ 'org.unikraft.kernel.image': '/unikraft/bin/kernel' }), /img: a KraftKit image for the Unikraft platform "fc"; Cunik boots kernels built for qemu \(kvm\)$/],
    [config({ os: 'xen' }), manifest({ 'org.unikraft.kernel.image': '/unikraft/bin/kernel' }), /platform "xen"/],
    [config({ architecture: 'arm64' }), manifest({ 'org.unikraft.kernel.image': '/unikraft/bin/kernel' }), /img: a KraftKit image for "arm64"; Cunik runs x86_64 \(amd64\) kernels$/],
    [config(), manifest({ 'org.unikraft.kernel.image': '/../etc/shadow' }), /annotation org\.unikraft\.kernel\.image "\/\.\.\/etc\/shadow" points outside/],
    [config({ config: { Cmd: [1] as unknown as string[] } }), manifest({ 'org.unikraft.kernel.image': '/unikraft/bin/kernel' }), /config Cmd must be an array of strings/],
  ];
  for (const [c, m, re] of bad) assert.throws(() => kraftkitImage(c, m, 'img'), re);
});

const U = (o: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [`com.urunc.unikernel.${k}`, v]));
const linuxConfig = (inner?: ImageConfig['config']): ImageConfig => config({ architecture: 'amd64', os: 'linux', ...(inner && { config: inner }) });

test('urunc: type to family, cmdline (or the process args) to args, paths checked', () => {
  const table: [Record<string, string>, ImageConfig['config'] | undefined, { family: string; args: string[]; kernel: string; initrd?: string }][] = [
    [{ unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/unikernel/kernel', cmdline: 'nginx -c /nginx.conf' }, undefined, { family: 'unikraft', args: ['-c', '/nginx.conf'], kernel: 'unikernel/kernel' }],
    [{ unikernelType: 'unikraft', hypervisor: 'firecracker', binary: 'k', initrd: '/unikernel/initrd', cmdline: 'x' }, undefined, { family: 'unikraft', args: [], kernel: 'k', initrd: 'unikernel/initrd' }],
    [{ unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/k', cmdline: 'ignored words' }, { Entrypoint: ['app'], Cmd: ['a b'] }, { family: 'unikraft', args: ['a b'], kernel: 'k' }],
    [{ unikernelType: 'mirage', hypervisor: 'qemu', binary: '/k.virtio', cmdline: '--hello=x  -l debug' }, undefined, { family: 'solo5', args: ['--hello=x', '-l', 'debug'], kernel: 'k.virtio' }],
    [{ unikernelType: 'rumprun', hypervisor: 'qemu', binary: '/unikernel/redis.bin', cmdline: 'redis-server /data/conf' }, undefined, { family: 'rumprun', args: ['/data/conf'], kernel: 'unikernel/redis.bin' }],
  ];
  for (const [ann, inner, want] of table) {
    const u = uruncImage(U(ann), linuxConfig(inner), 'img')!;
    assert.equal(u.labels['org.cunik.family'], want.family, JSON.stringify(ann));
    assert.deepEqual(JSON.parse(u.labels['org.cunik.args']!), want.args, JSON.stringify(ann));
    assert.deepEqual(u.files, { kernel: want.kernel, ...(want.initrd !== undefined && { initrd: want.initrd }) });
    assert.equal(u.labels['org.cunik.image-format'], 'urunc');
  }
  assert.equal(uruncImage(U({ unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/k', unikernelVersion: 'v0.17.0' }), linuxConfig(), 'img')!.labels['org.cunik.unikraft.version'], '0.17.0');
  assert.equal(uruncImage({ 'org.other': 'x' }, linuxConfig(), 'img'), undefined, 'no urunc annotations');
});

test('urunc: unknown or unsupported types, monitors and options are refused, naming them', () => {
  const base = { unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/unikernel/kernel' };
  const bad: [Record<string, string>, RegExp][] = [
    [{ ...base, unikernelType: 'frobos' }, /img: urunc unikernel type "frobos" is unknown \(known: unikraft, rumprun, mirage, linux, mewz\)$/],
    [{ ...base, unikernelType: 'linux' }, /img: urunc unikernel type "linux" is not supported: urunc starts a Linux guest's own init/],
    [{ ...base, unikernelType: 'mewz' }, /"mewz" is not supported: Cunik has no family for Mewz/],
    [{ ...base, unikernelType: 'mirage', hypervisor: 'hvt' }, /img: a mirage unikernel for Solo5's hvt tender; Cunik boots Solo5's virtio target on QEMU \(hypervisor qemu\)$/],
    [{ ...base, unikernelType: 'rumprun', hypervisor: 'spt' }, /rumprun unikernel for Solo5's spt tender/],
    [{ ...base, hypervisor: 'cloud-hypervisor' }, /urunc hypervisor "cloud-hypervisor" is unknown/],
    [{ unikernelType: 'unikraft', binary: '/k' }, /without com\.urunc\.unikernel\.hypervisor/],
    [{ hypervisor: 'qemu', binary: '/k' }, /without com\.urunc\.unikernel\.unikernelType/],
    [{ unikernelType: 'unikraft', hypervisor: 'qemu' }, /without com\.urunc\.unikernel\.binary/],
    [{ ...base, binary: '/unikernel/../../../etc/passwd' }, /com\.urunc\.unikernel\.binary "\/unikernel\/\.\.\/\.\.\/\.\.\/etc\/passwd" points outside the image's root filesystem/],
    [{ ...base, initrd: '../initrd' }, /com\.urunc\.unikernel\.initrd "\.\.\/initrd" points outside/],
    [{ ...base, block: '/disk.img', blkMntPoint: '/data' }, /block image \(com\.urunc\.unikernel\.block\) is not supported yet/],
    [{ ...base, useDMBlock: 'true' }, /useDMBlock=true .* is not supported/],
    [{ ...base, cmdline: 'x'.repeat(5000) }, /cmdline is longer than 4096 characters/],
  ];
  for (const [ann, re] of bad) assert.throws(() => uruncImage(U(ann), linuxConfig(), 'img'), re, JSON.stringify(ann).slice(0, 80));
});

test('urunc.json: base64 values decoded; not JSON, not an object, not base64 or too large refused', () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const doc = Buffer.from(JSON.stringify({ 'com.urunc.unikernel.binary': b64('/unikernel/kernel'), 'com.urunc.unikernel.cmdline': b64('hello wörld'), other: 5 }));
  assert.deepEqual(parseUruncJson(doc, 'img'), { 'com.urunc.unikernel.binary': '/unikernel/kernel', 'com.urunc.unikernel.cmdline': 'hello wörld' });
  const bad: [Buffer, RegExp][] = [
    [Buffer.from('{'), /img: \/urunc\.json is not valid JSON/],
    [Buffer.from('[1]'), /must be a JSON object/],
    [Buffer.from(JSON.stringify({ 'com.urunc.unikernel.binary': 7 })), /com\.urunc\.unikernel\.binary must be a base64 string/],
    [Buffer.from(JSON.stringify({ 'com.urunc.unikernel.binary': '/unikernel/kernel' })), /com\.urunc\.unikernel\.binary is not base64/],
    [Buffer.from(JSON.stringify({ 'com.urunc.unikernel.binary': Buffer.from([0xff, 0xfe]).toString('base64') })), /is not base64 of UTF-8 text/],
    [Buffer.alloc(70 * 1024, 0x20), /larger than 65536 bytes/],
  ];
  for (const [buf, re] of bad) assert.throws(() => parseUruncJson(buf, 'img'), re);
  // Labels and annotations: the first map holding a key wins (manifest annotations over labels).
  assert.deepEqual(uruncAnnotations({ 'com.urunc.unikernel.binary': '/a', x: 'y' }, { 'com.urunc.unikernel.binary': '/b', 'com.urunc.unikernel.hypervisor': 'qemu' }),
    { 'com.urunc.unikernel.binary': '/a', 'com.urunc.unikernel.hypervisor': 'qemu' });
});

test('pickPlatform: linux/amd64 first, then KraftKit\'s qemu (or kvm) with amd64 or x86_64, then other amd64 platforms', () => {
  const d = (architecture: string, os: string, c: string): Descriptor => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D(c), size: 1, platform: { architecture, os } });
  const table: [Descriptor[], string][] = [
    [[d('x86_64', 'fc', 'a'), d('x86_64', 'qemu', 'b')], D('b')],
    [[d('arm64', 'qemu', 'a'), d('x86_64', 'kvm', 'b')], D('b')],
    [[d('x86_64', 'qemu', 'a'), d('amd64', 'linux', 'b')], D('b')],
    [[d('x86_64', 'xen', 'a')], D('a')],
  ];
  for (const [ms, want] of table) assert.equal(pickPlatform(ms, 'x').digest, want);
  assert.throws(() => pickPlatform([d('arm64', 'qemu', 'a')], 'image index k'), /image index k has no image for linux\/amd64 \(it has qemu\/arm64\)$/);
});

test('cunik/boot.json: the org.cunik.* labels, env and file paths, sorted; read back with its shape checked', () => {
  const labels = { 'org.cunik.family': 'generic', 'org.cunik.args': '["a"]', 'org.cunik.boot': 'multiboot', 'com.other': 'x' };
  const buf = bootFile(labels, ['A=1'], { kernel: true, initrd: true });
  assert.equal(buf.toString(), bootFile({ ...labels }, ['A=1'], { initrd: true, kernel: true }).toString(), 'same facts, same bytes');
  const doc = parseBootFile(buf, 'f');
  assert.deepEqual(doc, { version: 1, labels: { 'org.cunik.args': '["a"]', 'org.cunik.boot': 'multiboot', 'org.cunik.family': 'generic' }, env: ['A=1'], kernel: 'cunik/kernel', initrd: 'cunik/initrd' });
  assert.deepEqual(Object.keys(JSON.parse(buf.toString()).labels), ['org.cunik.args', 'org.cunik.boot', 'org.cunik.family']);
  const bad: [unknown, RegExp][] = [
    [{ version: 2, labels: {}, env: [] }, /not a version 1 boot file/],
    [{ version: 1, labels: { 'org.cunik.family': 1 }, env: [] }, /labels must map org\.cunik\.\* keys to strings/],
    [{ version: 1, labels: { other: 'x' }, env: [] }, /labels must map org\.cunik\.\* keys/],
    [{ version: 1, labels: {}, env: 'A=1' }, /env must be an array of strings/],
    [{ version: 1, labels: {}, env: [], kernel: '../../etc/passwd' }, /kernel must be cunik\/kernel/],
  ];
  for (const [v, re] of bad) assert.throws(() => parseBootFile(Buffer.from(JSON.stringify(v)), 'f'), re);
});
