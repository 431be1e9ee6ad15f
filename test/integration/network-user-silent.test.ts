// A published port on the user-mode network (passt) of a guest that has never sent a frame: a
// linux guest that prints a line and sleeps, listening on nothing. passt learns the guest's MAC
// from its first frame; before cunik-init sent a gratuitous ARP on link-up (arp_notify), such a
// guest had sent none, passt addressed the SYN to 00:00:00:00:00:00, the guest never saw it and
// a client connecting to the published port hung until its own timeout. Now the guest's kernel
// gets the SYN and resets it: the client's connection ends within milliseconds.
// The daemon runs in a namespace made here (a veth default route passt needs, to nobody).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { freePort, linuxGuestMissing, tscLabelLines } from '../helpers/linux-guest.js';
import { netLab, type NetLab } from '../helpers/netns.js';

const missing = linuxGuestMissing().join('; ');
let lab: NetLab;
let ctx: string;

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  lab = await netLab({ tag: 'us', peer: 'veth', defaultRoute: true });
  ctx = mkdtempSync(join(tmpdir(), 'cunik-silent-'));
  writeFileSync(join(ctx, 'Cunikfile'), [
    'family: linux',
    'app: /bin/busybox',
    'args: [sh, -c, "echo SILENT-READY; exec sleep 600"]',
    'memory: 112M',
    ...tscLabelLines(),
    '',
  ].join('\n'));
  await lab.start(['--accel', 'tcg', '--default-network', 'user']);
  const b = await lab.run(['build', '-q', '-t', 'silent', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
});

after(async () => {
  await lab?.close();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

/** How a TCP connection to 127.0.0.1:PORT in the daemon's namespace ended, and after how long. */
async function connectionEnd(port: number): Promise<{ how: string; ms: number }> {
  const js = `const t0=Date.now();const s=require('node:net').connect(${port},'127.0.0.1');
    const done=(how)=>{console.log(JSON.stringify({how,ms:Date.now()-t0}));process.exit(0);};
    s.on('error',(e)=>done(e.code));s.on('close',()=>done('closed'));s.on('data',()=>done('data'));
    setTimeout(()=>done('hung'),5000);`;
  return JSON.parse(await lab.execAsync(lab.ns, process.execPath, '-e', js)) as { how: string; ms: number };
}

test('a published port of a guest that never sent a frame is reset at once, not left hanging', { timeout: 300_000 }, async () => {
  const port = await freePort();
  const r = await lab.run(['run', '-d', '--name', 'silent', '-p', `127.0.0.1:${port}:80`, 'silent']);
  assert.equal(r.code, 0, r.stderr);
  await waitFor('the guest\'s line', async () => ((await lab.run(['logs', 'silent'])).stdout.includes('SILENT-READY') || undefined), 240_000);
  for (let i = 0; i < 3; i++) {
    const end = await connectionEnd(port);
    assert.notEqual(end.how, 'hung', 'passt never reached the guest: it does not know its MAC');
    assert.ok(end.ms < 2000, `the connection ended (${end.how}) after ${end.ms} ms`);
  }
  assert.equal((await lab.run(['rm', '-f', 'silent'])).code, 0);
});
