// VM templates (src/vmm/qemu/template.ts), for real: a linux image on a root disk boots once as a
// template; its instances start as clones of it (QEMU listening for the saved state), each with its
// own time of day, randomness, host name, env and args handed to the waiting init; the
// template's RAM is sealed (no process can write it); removing the template ends its holder; and
// a daemon with --no-vm-templates boots whole. The image: busybox-static on a root disk
// (rootfs: disk), as a docker-archive made here.
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hostTscKhz } from '../../src/families/host.js';
import { busyboxEntries, writeContainerArchive } from '../fixtures/build/oci-archive.js';
import { cli, startDaemon, templatesMade, waitFor, type TestDaemon } from '../helpers/daemon.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';

const missing = linuxGuestMissing().join('; ');
const APPLETS = ['sh', 'cat', 'echo', 'od', 'head', 'date', 'hostname', 'sleep'];
const tsc = hostTscKhz();

let d: TestDaemon;
let ctx: string;

const run = async (args: string[], daemon = d): Promise<string> => {
  const r = await cli(['run', '--rm', ...args], { socket: daemon.socket });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return r.stdout;
};

/** The QEMU argv of a running instance. */
const qemuArgvOf = async (daemon: TestDaemon, name: string): Promise<string[]> => {
  const pid = (await daemon.client.inspectInstance(name)).pid!;
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
};

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-template-'));
  const layer = busyboxEntries(APPLETS);
  await writeContainerArchive(join(ctx, 'docker.tar'), 'docker', [layer], { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo default'], Env: ['PATH=/bin'] });
  writeFileSync(join(ctx, 'Cunikfile'), `family: linux\nfrom: docker-archive:docker.tar\nrootfs: disk\n${tsc !== undefined ? `labels: { org.cunik.tsc-khz: ${tsc} }\n` : ''}`);
  d = await startDaemon({ args: ['--default-network', 'user'] });
  const b = await cli(['build', '-q', '-t', 'tpl', ctx], { socket: d.socket });
  assert.equal(b.code, 0, b.stderr);
  assert.equal((await d.client.inspectImage('tpl')).labels['org.cunik.clone'], '1');
});
after(async () => {
  await d?.stop();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test('the first instance boots whole while the template is made beside it; the next ones start as clones, each with its own time, randomness, name, env and args', async () => {
  const first = await cli(['run', '-d', '--name', 'first', 'tpl', 'sleep 600'], { socket: d.socket });
  assert.equal(first.code, 0, first.stderr);
  assert.equal((await qemuArgvOf(d, 'first')).includes('-incoming'), false, 'no template yet: a whole boot, not waiting for one');
  assert.equal(readdirSync(join(d.root, 'templates')).length, 1, 'the template is being made');
  // One started while the template is made waits for it and starts as its clone.
  const second = await cli(['run', '-d', '--name', 'second', 'tpl', 'sleep 600'], { socket: d.socket });
  assert.equal(second.code, 0, second.stderr);
  assert.ok((await qemuArgvOf(d, 'second')).includes('-incoming'), 'a clone of the template made meanwhile');
  await templatesMade(d);
  await cli(['rm', '-f', 'first', 'second'], { socket: d.socket });
  const line = 'date +%s; head -c 16 /dev/urandom | od -An -tx1; hostname; echo "G=$G"; echo "A=$0"';
  const outs: string[] = [];
  for (const i of [0, 1]) outs.push(await run(['--hostname', `clone-${i}`, '-e', `G=v ${i}`, 'tpl', line]));
  const templates = readdirSync(join(d.root, 'templates'));
  assert.equal(templates.length, 1, 'one template for all');
  assert.ok(existsSync(join(d.root, 'templates', templates[0]!, 'holder.pid')));
  assert.match(d.stderr(), /VM template \S+: made in \d+ ms/);
  const now = Math.floor(Date.now() / 1000);
  const random: string[] = [];
  for (const [i, out] of outs.entries()) {
    // A clone's console starts with its template's, as a whole boot's would: no kernel line under quiet.
    assert.doesNotMatch(out, /^\[\s*\d+\.\d+\]/m, 'no kernel line in what the app printed');
    const lines = out.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    assert.ok(Math.abs(Number(lines[0]) - now) < 120, `the clone's clock is now, not the template's: ${out}`);
    random.push(lines[1]!);
    assert.equal(lines[2], `clone-${i}`);
    assert.equal(lines[3], `G=v ${i}`);
    assert.equal(lines[4], 'A=/bin/sh');
  }
  assert.notEqual(random[0], random[1], 'each clone reseeds its random generator');
});

test('a running clone is QEMU listening for the template\'s state, over a private view of RAM no one can write', async () => {
  const r = await cli(['run', '-d', '--name', 'long', 'tpl', 'sleep 600'], { socket: d.socket });
  assert.equal(r.code, 0, r.stderr);
  try {
    const argv = await qemuArgvOf(d, 'long');
    assert.ok(argv.includes('-incoming'), argv.join(' '));
    const mem = argv.find((a) => a.startsWith('memory-backend-file,'))!;
    assert.match(mem, /mem-path=\/proc\/\d+\/fd\/3,share=off/);
    const file = /mem-path=([^,]+)/.exec(mem)![1]!;
    // Sealed: opened for writing (as QEMU 7.2 opens it), but a write fails with EPERM.
    const fd = openSync(file, 'r+');
    try {
      assert.throws(() => writeSync(fd, Buffer.from('x'), 0, 1, 0), (e: NodeJS.ErrnoException) => e.code === 'EPERM');
    } finally {
      closeSync(fd);
    }
  } finally {
    await cli(['rm', '-f', 'long'], { socket: d.socket });
  }
});

test('removing a template ends its holder; the next instance makes a new one', async () => {
  const [name] = readdirSync(join(d.root, 'templates'));
  const dir = join(d.root, 'templates', name!);
  const holder = Number(readFileSync(join(dir, 'holder.pid'), 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  await waitFor('the holder to end', () => (existsSync(`/proc/${holder}`) ? undefined : true), 10_000);
  assert.match(await run(['tpl']), /^default\r?$/m);
  await templatesMade(d);
  assert.ok(existsSync(join(dir, 'holder.pid')), 'made again');
});

test('cunikd --no-vm-templates boots every instance whole', async () => {
  const whole = await startDaemon({ args: ['--default-network', 'user', '--no-vm-templates'] });
  try {
    const b = await cli(['build', '-q', '-t', 'tpl', ctx], { socket: whole.socket });
    assert.equal(b.code, 0, b.stderr);
    const r = await cli(['run', '-d', '--name', 'w', 'tpl', 'sleep 600'], { socket: whole.socket });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await qemuArgvOf(whole, 'w')).includes('-incoming'), false);
    assert.equal(existsSync(join(whole.root, 'templates')), false);
  } finally {
    await cli(['rm', '-f', 'w'], { socket: whole.socket });
    await whole.stop();
  }
});
