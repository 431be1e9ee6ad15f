// A published port on the user-mode network (passt) of a guest that has never sent a frame: a
// linux guest that prints a line and sleeps, listening on nothing. passt learns the guest's MAC
// from its first frame; before cunik-init sent a gratuitous ARP on link-up (arp_notify), such a
// guest had sent none, passt addressed the SYN to 00:00:00:00:00:00, the guest never saw it and
// a client connecting to the published port hung until its own timeout. Now the guest's kernel
// gets the SYN and resets it: the client's connection ends within milliseconds.
// The daemon runs in a namespace made here (a veth default route passt needs, to nobody).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { freePort, linuxGuestMissing, passtFor, procStatus, tscLabelLines } from '../helpers/linux-guest.js';
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

/**
 * How a TCP connection to 127.0.0.1:PORT in the daemon's namespace ended, and after how long:
 * 'hung' if nothing happened in 5 s; with `giveUpMs`, the client closes it then ('gave up').
 */
async function connectionEnd(port: number, giveUpMs?: number): Promise<{ how: string; ms: number }> {
  const giveUp = giveUpMs !== undefined ? `setTimeout(()=>{s.destroy();done('gave up');},${giveUpMs});` : '';
  const js = `const t0=Date.now();const s=require('node:net').connect(${port},'127.0.0.1');
    const done=(how)=>{console.log(JSON.stringify({how,ms:Date.now()-t0}));process.exit(0);};
    s.on('error',(e)=>done(e.code));s.on('close',()=>done('closed'));s.on('data',()=>done('data'));
    ${giveUp}setTimeout(()=>done('hung'),5000);`;
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

/** CPU time (clock ticks: utime + stime, /proc/PID/stat) a process has used. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

// Debian 12's passt watches a host connection it has not yet connected to the guest for EPOLLRDHUP
// alone, level-triggered: a client that gave up before the guest answered (one polling a port
// while the guest boots) made it spin at 100% of a CPU until its 10 s handshake timeout, at the
// daemon's priority, ahead of the VMs (a second instance booting beside one being polled took 10.5 s
// to answer instead of 4). cunik-passt-fixes.so makes that registration edge-triggered, as
// passt did upstream later, and passt runs at the VM's priority.
test('a client that gives up on a published port before the guest answers leaves passt idle, at the VM\'s priority', { timeout: 300_000 }, async () => {
  const port = await freePort();
  // The guest's NIC down: passt's SYN to it is dropped, as before a guest's network is up.
  const r = await lab.run(['run', '-d', '--name', 'deaf', '-p', `127.0.0.1:${port}:80`, 'silent', 'sh', '-c', 'ip link set eth0 down && echo DEAF-READY; exec sleep 600']);
  assert.equal(r.code, 0, r.stderr);
  await waitFor('the guest\'s line', async () => ((await lab.run(['logs', 'deaf'])).stdout.includes('DEAF-READY') || undefined), 240_000);
  const [passt] = passtFor(port);
  assert.ok(passt !== undefined, 'passt runs beside the VM');
  const end = await connectionEnd(port, 300);
  assert.equal(end.how, 'gave up', `passt took the connection and the guest never answered it: ${JSON.stringify(end)}`);
  const before = cpuTicks(passt);
  await new Promise((res) => setTimeout(res, 3000));
  const used = cpuTicks(passt) - before;
  assert.ok(used < 30, `passt used ${used} ticks of CPU in 3 s after the client gave up (it spins without the fix: about 300)`);
  // cunik-shim is the parent of both: QEMU is its other child.
  const shim = Number(procStatus(passt)['PPid']);
  const vm = readFileSync(`/proc/${shim}/task/${shim}/children`, 'utf8').trim().split(/\s+/).map(Number).find((pid) => pid !== passt);
  assert.ok(vm !== undefined, 'the shim has QEMU beside passt');
  const nice = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
  assert.equal(nice(passt), nice(vm), 'passt runs at the VM\'s priority');
  assert.equal((await lab.run(['rm', '-f', 'deaf'])).code, 0);
});

// passt sends the guest one SYN per connection and never again: a connection made before the
// guest's network was up hung until passt's 10 s timeout, then was reset. passt now listens at
// once (the port is the VM's) but takes connections only from the guest's first frame
// (cunik-passt-fixes.so): one made before waits in the listen queue, not taken by passt, until the
// guest can answer it; then it is served, or reset at once if nothing listens in the guest yet.
// No timing is assumed of the boot (under CI's load a guest's network came up after 21 s).
test('a connection made before the guest\'s network is up waits in the listen queue for the guest, then ends', { timeout: 300_000 }, async () => {
  const port = await freePort();
  // The probe starts before the instance and connects as soon as passt listens (a bind of the
  // port fails), which it does as the VM starts, long before the guest's kernel is up. 300 ms
  // later (the old passt took a connection within milliseconds; a guest under TCG has no network
  // for a second or more) it reads the listen queue: the connection is still there.
  const js = `const net=require('node:net');const {execFileSync}=require('node:child_process');const t0=Date.now();
    const held=()=>new Promise((res)=>{const s=net.createServer();s.once('error',(e)=>res(e.code==='EADDRINUSE'));s.listen(${port},'127.0.0.1',()=>s.close(()=>res(false)));});
    (async()=>{while(!(await held())){if(Date.now()-t0>60000){console.log(JSON.stringify({how:'never listened'}));return;}await new Promise((r)=>setTimeout(r,5));}
      const c=net.connect(${port},'127.0.0.1');let data='';const t=Date.now();let queued;
      const end=(how)=>{console.log(JSON.stringify({how,ms:Date.now()-t,data,queued}));process.exit(0);};
      c.on('connect',()=>{c.write('GET /index.html HTTP/1.0\\r\\n\\r\\n');
        setTimeout(()=>{queued=execFileSync('ss',['-Hltn','sport = :${port}'],{encoding:'utf8'}).trim().split(/\\s+/)[1];},300);});
      c.on('data',(d)=>data+=d);c.on('error',(e)=>end(e.code));c.on('close',()=>end('closed'));setTimeout(()=>end('hung'),150000);})();`;
  const probe = lab.execAsync(lab.ns, process.execPath, '-e', js);
  const r = await lab.run(['run', '-d', '--name', 'early', '-p', `127.0.0.1:${port}:80`, 'silent', 'sh', '-c', 'echo hello > /tmp/index.html; exec httpd -f -p 80 -h /tmp']);
  assert.equal(r.code, 0, r.stderr);
  const first = JSON.parse(await probe) as { how: string; ms: number; data: string; queued?: string };
  // ss's Recv-Q of a listening socket: connections the kernel holds that passt has not accepted.
  assert.equal(first.queued, '1', `passt took the connection before the guest could answer it: ${JSON.stringify(first)}`);
  assert.notEqual(first.how, 'hung', `the queued connection never ended: ${JSON.stringify(first)}`);
  assert.ok(/hello/.test(first.data) || first.how === 'ECONNRESET' || first.how === 'closed', JSON.stringify(first));
  // A client that retries is answered.
  const answer = await waitFor('the guest\'s answer', async () => {
    const out = await lab.execAsync(lab.ns, process.execPath, '-e', `fetch('http://127.0.0.1:${port}/index.html',{signal:AbortSignal.timeout(5000)}).then(async(r)=>console.log(await r.text())).catch(()=>console.log(''))`);
    return out.includes('hello') || undefined;
  }, 180_000);
  assert.ok(answer);
  assert.equal((await lab.run(['rm', '-f', 'early'])).code, 0);
});
