// VM templates (src/vmm/qemu/template.ts): what a template boots, what keys it, the message a
// clone's init reads, and the argv of a template boot and of a clone (argv.ts).
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { qemuArgv } from '../../src/vmm/qemu/argv.js';
import { instanceMessage, templateKey, templateSpec, VmTemplates } from '../../src/vmm/qemu/template.js';
import type { Spawner } from '../../src/vmm/spawner.js';
import type { BootSpec, VmPaths } from '../../src/vmm/types.js';

const paths: VmPaths = { dir: '/r/instances/abc', pidfile: '/r/instances/abc/qemu.pid', qmpSocket: '/r/sock/abc.qmp', consoleLog: '/r/instances/abc/console.log', consoleSocket: '/r/sock/abc.con' };

function spec(dir: string): BootSpec {
  return {
    machine: 'microvm',
    kernel: join(dir, 'kernel'),
    initrd: join(dir, 'initrd'),
    cmdline: 'console=ttyS0 ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off cunik.hostname=a cunik.root=cunik-root',
    disks: [{ path: join(dir, 'disk'), format: 'raw', readonly: true, serial: 'cunik-root' }],
    memoryMiB: 256,
    cpus: 1,
    powerdown: 'acpi',
    debugExit: true,
    nics: [{ backend: { type: 'passt', guest: { ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2' }, forwards: [] }, mac: '02:42:00:00:00:01' }],
    clone: { cmdline: 'console=ttyS0 cunik.root=cunik-root cunik.template', words: ['ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off', 'cunik.hostname=a', 'cunik.mac=02:42:00:00:00:01'] },
  };
}

test('templateSpec: the shared command line and an unplugged NIC (no MAC: the init sets the instance\'s)', () => {
  const t = templateSpec(spec('/i'));
  assert.equal(t.cmdline, 'console=ttyS0 cunik.root=cunik-root cunik.template');
  assert.deepEqual(t.nics, [{ backend: { type: 'unplugged' } }]);
  assert.equal('clone' in t, false);
  assert.throws(() => templateSpec({ ...spec('/i'), clone: undefined }), /cannot be cloned/);
});

test('templateKey: the same for two instances of one image; another file, memory or line is another template', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-tkey-'));
  try {
    for (const f of ['kernel', 'initrd', 'disk']) writeFileSync(join(dir, f), f);
    const a = spec(dir);
    const b = { ...spec(dir), cmdline: 'console=ttyS0 ip=10.0.2.16::10.0.2.2:255.255.255.0::eth0:off cunik.hostname=b cunik.root=cunik-root', clone: { ...a.clone!, words: ['cunik.hostname=b'] }, nics: [{ ...a.nics![0]!, mac: '02:42:00:00:00:02' }] };
    const key = templateKey(a, 'tcg', process.execPath);
    assert.match(key, /^[0-9a-f]{32}$/);
    assert.equal(templateKey(b, 'tcg', process.execPath), key);
    assert.notEqual(templateKey({ ...a, memoryMiB: 512 }, 'tcg', process.execPath), key);
    assert.notEqual(templateKey(a, 'kvm', process.execPath), key);
    assert.notEqual(templateKey({ ...a, clone: { ...a.clone!, cmdline: `${a.clone!.cmdline} cunik.ro` } }, 'tcg', process.execPath), key);
    writeFileSync(join(dir, 'disk'), 'another disk');
    assert.notEqual(templateKey(a, 'tcg', process.execPath), key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('instanceMessage: NUL-separated, unquoted words after the time and a 64-byte seed, ended by an empty word', () => {
  const m = instanceMessage(['cunik.hostname=a', 'K=v w', '--', 'say "hi"'], 1_700_000_000_123, Buffer.alloc(64, 0xab));
  assert.equal(m.toString(), `CUNIK1\0time=1700000000.123000000\0seed=${'ab'.repeat(64)}\0cunik.hostname=a\0K=v w\0--\0say "hi"\0\0`);
  assert.notEqual(instanceMessage([]).toString(), instanceMessage([]).toString(), 'a fresh seed each time');
  assert.throws(() => instanceMessage(['a\0b']), /NUL/);
});

test('qemuArgv: a template boot\'s RAM is the shared file, a clone\'s a private view of it listening for its state; both have the config port', () => {
  const t = qemuArgv(templateSpec(spec('/i')), paths, 'tcg', { memory: { path: '/proc/self/fd/3', share: true }, configPort: '/t/config.sock' });
  const c = qemuArgv({ ...spec('/i'), cmdline: spec('/i').clone!.cmdline }, paths, 'tcg', { memory: { path: '/proc/42/fd/3', share: false }, configPort: '/r/sock/abc.cfg', incoming: '/r/sock/abc.mig' });
  const after = (argv: string[], flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));
  assert.deepEqual(after(t, '-object'), ['memory-backend-file,id=cunik-ram,size=256M,mem-path=/proc/self/fd/3,share=on,merge=off']);
  assert.deepEqual(after(c, '-object'), ['memory-backend-file,id=cunik-ram,size=256M,mem-path=/proc/42/fd/3,share=off,merge=off']);
  for (const argv of [t, c]) {
    assert.ok(after(argv, '-machine').includes('memory-backend=cunik-ram'));
    assert.deepEqual(after(argv, '-device').filter((d) => /serial/.test(d) && !/blk/.test(d)), ['virtio-serial-device,max_ports=2', 'virtserialport,chardev=cunik-cfg,name=org.cunik.config']);
  }
  assert.deepEqual(after(t, '-chardev').filter((x) => x.includes('cunik-cfg')), ['socket,id=cunik-cfg,path=/t/config.sock,server=on,wait=off']);
  assert.deepEqual(after(t, '-netdev'), ['hubport,id=net0,hubid=0']);
  assert.deepEqual(after(c, '-netdev'), ['stream,id=net0,addr.type=fd,addr.str=3']);
  assert.deepEqual(after(t, '-incoming'), []);
  assert.deepEqual(after(c, '-incoming'), ['unix:/r/sock/abc.mig']);
  // The same devices in the same order: what a saved state needs of the VM it is loaded into.
  const devices = (argv: string[]): string[] => after(argv, '-device').map((d) => d.replace(/,mac=[^,]+/, ''));
  assert.deepEqual(devices(c), devices(t));
  assert.equal(after(c, '-append')[0], after(t, '-append')[0]);
});

test('sweep: templates unused for a day and those whose image is gone (only their own link to a boot file is left) go; others stay', () => {
  const root = mkdtempSync(join(tmpdir(), 'cunik-tpl-sweep-'));
  try {
    const file = (name: string): string => {
      writeFileSync(join(root, name), name);
      return join(root, name);
    };
    const kernel = file('kernel');
    const initrd = file('initrd');
    const make = (name: string, links: string[], ageMs = 0): void => {
      const dir = join(root, 't', name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'used'), '');
      const when = new Date(Date.now() - ageMs);
      utimesSync(join(dir, 'used'), when, when);
      links.forEach((f, i) => linkSync(f, join(dir, `boot-${i}`)));
    };
    make('kept', [kernel, initrd]);
    // Two templates of one image (its boot and its app template) link the same initrd.
    make('kept-too', [kernel, initrd]);
    make('unused', [kernel], 25 * 3600_000);
    make('older', []);
    const t = new VmTemplates({ dir: join(root, 't'), memhold: '/bin/false', spawner: {} as Spawner, binary: 'qemu-system-x86_64', argv: () => [] });
    assert.deepEqual(readdirSync(join(root, 't')).sort(), ['kept', 'kept-too', 'older']);
    // The image (and every instance) lets go of its initrd: the template's link is the last one.
    rmSync(initrd);
    t.sweep();
    assert.deepEqual(readdirSync(join(root, 't')), ['older']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
