// App templates (Cunikfile `snapshot: app`, src/vmm/qemu/template.ts, init.c "an app template"),
// for real: the template boot runs the image's app until it listens on the image's ports, and is
// saved then; its instances start as clones with the app already serving, each with its own time of
// day, kernel randomness, host name and address, handed to the init while the app runs. An
// instance with a command of its own (here --entrypoint) clones the boot template instead; an app
// that ends before it listens makes no template, and its instances boot whole. What the app
// printed as it started heads each clone's log.
// The image: busybox-static's httpd on a root disk, whose CGI script answers what the clone is.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hostTscKhz } from '../../src/families/host.js';
import { busyboxEntries, writeContainerArchive, type LayerEntry } from '../fixtures/build/oci-archive.js';
import { cli, startDaemon, templatesMade, waitFor, type TestDaemon } from '../helpers/daemon.js';
import { freePort, linuxGuestMissing } from '../helpers/linux-guest.js';

const missing = linuxGuestMissing().join('; ');
const APPLETS = ['sh', 'cat', 'echo', 'printf', 'od', 'head', 'date', 'hostname', 'httpd', 'ip'];
const tsc = hostTscKhz();
// Header lines end in CRLF: busybox passes a CGI's header through, and fetch wants HTTP's line ends.
const CGI = '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\ndate +%s\nhead -c 16 /dev/urandom | od -An -tx1\nhostname\nip -4 -o addr show eth0\n';

let d: TestDaemon;
let ctx: string;

const qemuArgvOf = async (name: string): Promise<string[]> => readFileSync(`/proc/${(await d.client.inspectInstance(name)).pid!}/cmdline`, 'utf8').split('\0');

/** The CGI's answer once the instance serves (a connection made before its NIC is up may be lost: tried again). */
const who = (port: number): Promise<string> => waitFor(`http://127.0.0.1:${port}/`, async () => {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/cgi-bin/who`, { signal: AbortSignal.timeout(2000) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}, 120_000);

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-template-app-'));
  const layer: LayerEntry[] = [...busyboxEntries(APPLETS), { name: 'www/cgi-bin/who', body: Buffer.from(CGI), mode: 0o755 }];
  await writeContainerArchive(join(ctx, 'httpd.tar'), 'docker', [layer], { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo httpd starting; exec httpd -f -p 8080 -h /www'], Env: ['PATH=/bin'] });
  await writeContainerArchive(join(ctx, 'quits.tar'), 'docker', [layer], { Cmd: ['echo', 'quit at once'], Env: ['PATH=/bin'] });
  const tscLine = tsc !== undefined ? `labels: { org.cunik.tsc-khz: ${tsc} }\n` : '';
  writeFileSync(join(ctx, 'Cunikfile'), `family: linux\nfrom: docker-archive:httpd.tar\nrootfs: disk\nports: [8080]\nsnapshot: app\n${tscLine}`);
  writeFileSync(join(ctx, 'Cunikfile.quits'), `family: linux\nfrom: docker-archive:quits.tar\nrootfs: disk\nports: [8080]\nsnapshot: app\n${tscLine}`);
  d = await startDaemon({ args: ['--default-network', 'user'] });
  for (const [tag, file] of [['tpl-app', 'Cunikfile'], ['tpl-quits', 'Cunikfile.quits']]) {
    const b = await cli(['build', '-q', '-t', tag!, '-f', join(ctx, file!), ctx], { socket: d.socket });
    assert.equal(b.code, 0, b.stderr);
    assert.equal((await d.client.inspectImage(tag!)).labels['org.cunik.clone'], 'app');
  }
});
after(async () => {
  await d?.stop();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test('instances start with their app already listening, each with its own time, randomness, name and address', async () => {
  // The first boots whole (and serves) while the template is made beside it.
  const firstPort = await freePort();
  const first = await cli(['run', '-d', '--name', 'app-first', '-p', `127.0.0.1:${firstPort}:8080`, 'tpl-app'], { socket: d.socket });
  assert.equal(first.code, 0, first.stderr);
  assert.equal((await qemuArgvOf('app-first')).includes('-incoming'), false, 'no template yet: a whole boot');
  assert.match(await who(firstPort), /eth0\s+inet /);
  await templatesMade(d);
  await cli(['rm', '-f', 'app-first'], { socket: d.socket });
  const outs: string[] = [];
  for (const i of [0, 1]) {
    const port = await freePort();
    const r = await cli(['run', '-d', '--name', `app-${i}`, '--hostname', `app-clone-${i}`, '-p', `127.0.0.1:${port}:8080`, 'tpl-app'], { socket: d.socket });
    assert.equal(r.code, 0, r.stderr);
    outs.push(await who(port));
  }
  try {
    assert.equal(readdirSync(join(d.root, 'templates')).length, 1, 'one template for both');
    // The clone's kernel line is the app template's: the app's ports to wait for, nothing of the instance's.
    const argv = await qemuArgvOf('app-0');
    assert.ok(argv.includes('-incoming'), argv.join(' '));
    const append = argv[argv.indexOf('-append') + 1]!;
    assert.match(append, /(^| )cunik\.template=8080\/tcp( |$)/);
    assert.doesNotMatch(append, /hostname|ip=/);
    const now = Math.floor(Date.now() / 1000);
    const random: string[] = [];
    for (const [i, out] of outs.entries()) {
      const lines = out.split('\n').map((l) => l.trim()).filter(Boolean);
      assert.ok(Math.abs(Number(lines[0]) - now) < 120, `the clone's clock is now, not the template's: ${out}`);
      random.push(lines[1]!);
      assert.equal(lines[2], `app-clone-${i}`);
      assert.match(lines[3] ?? '', /eth0\s+inet \d+\.\d+\.\d+\.\d+\//, `the clone's NIC has its address: ${out}`);
    }
    assert.notEqual(random[0], random[1], 'each clone reseeds its random generator');
    // What the app printed as it started (in the template) heads each clone's log, as after a whole boot.
    const logs = await cli(['logs', 'app-1'], { socket: d.socket });
    assert.match(logs.stdout, /^httpd starting\r?$/m);
  } finally {
    await cli(['rm', '-f', 'app-0', 'app-1'], { socket: d.socket });
  }
});

test('an instance with a command of its own clones the boot template, not the app\'s', async () => {
  const r = await cli(['run', '--rm', '--entrypoint', '/bin/sh', 'tpl-app', '-c', 'echo own command; hostname'], { socket: d.socket });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^own command\r?$/m);
  assert.equal(readdirSync(join(d.root, 'templates')).length, 2, 'a boot template beside the app template');
  await templatesMade(d);
  const own = await cli(['run', '-d', '--name', 'own', '--entrypoint', '/bin/sh', 'tpl-app', '-c', 'sleep 600'], { socket: d.socket });
  assert.equal(own.code, 0, own.stderr);
  try {
    const argv = await qemuArgvOf('own');
    assert.ok(argv.includes('-incoming'), argv.join(' '));
    assert.match(argv[argv.indexOf('-append') + 1]!, /(^| )cunik\.template( |$)/, 'the boot template\'s kernel line');
  } finally {
    await cli(['rm', '-f', 'own'], { socket: d.socket });
  }
});

test('an app that ends before it listens makes no template: its instances boot whole', async () => {
  const r = await cli(['run', '--rm', 'tpl-quits'], { socket: d.socket });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^quit at once\r?$/m);
  await templatesMade(d);
  assert.match(d.stderr(), /warning: VM template \S+: .*; its instances boot whole/);
});

test('removing an image (and the build cache that made it) ends its templates and their holders', async () => {
  const dir = join(d.root, 'templates');
  // The app template and the boot template (tpl-quits' failed one left its logs, no holder).
  const held = (): string[] => readdirSync(dir).filter((t) => existsSync(join(dir, t, 'holder.pid')));
  const holders = held().map((t) => Number(readFileSync(join(dir, t, 'holder.pid'), 'utf8')));
  assert.equal(holders.length, 2);
  const r = await cli(['rmi', 'tpl-app'], { socket: d.socket });
  assert.equal(r.code, 0, r.stderr);
  // The build cache links the image's initrd and disk too: a rebuild would find its templates still good.
  assert.equal(held().length, 2);
  const p = await cli(['builder', 'prune', '-a', '-f'], { socket: d.socket });
  assert.equal(p.code, 0, p.stderr);
  assert.deepEqual(held(), []);
  await waitFor('the holders to end', () => (holders.some((pid) => existsSync(`/proc/${pid}`)) ? undefined : true), 10_000);
});
