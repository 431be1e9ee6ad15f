// A hostile guest (the linux family test guest: Debian's kernel + busybox, built by Cunik's
// builder) against its confinement: it cannot reach a server bound to the host's 127.0.0.1
// through its gateway, a setuid chmod, a mknod or a symlink in a 9p share makes no setuid file,
// device or symlink on the host, its QEMU runs as the VM user with seccomp and no capability, and
// the passt beside it lives exactly as long as the VM (stop, kill, rm, a daemon killed and
// restarted).
// The daemon runs in a network namespace made here (loopback plus a default route to nobody, which
// passt needs to start): nothing leaves this machine.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { passtBindFailure } from '../../src/network/passt.js';
import { QemuDriver } from '../../src/vmm/qemu/driver.js';
import { cli, helloKernel, repo, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';
import { freePort, linuxGuestMissing, passtFor, procStatus } from '../helpers/linux-guest.js';

const missing = linuxGuestMissing().join('; ');
const skip = missing !== '' ? missing : false;
const ns = `cunik-t-${process.pid}`;
const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'ignore' });

let d: TestDaemon;
let server: ChildProcess | undefined;
let secretPort = 0;
const run = (args: string[]) => cli(args, { socket: d.socket });

const USER_MODE = ['--accel', 'tcg', '--default-network', 'user'];
const noPasst = (port: number, what: string): Promise<true> => waitFor(`no passt left for port ${port} ${what}`, () => passtFor(port).length === 0 || undefined, 10_000);

before(async () => {
  if (skip) return;
  ip('netns', 'add', ns);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  // passt needs an interface with a default route to start: a veth pair with both ends in the
  // namespace, nobody behind the other end (this kernel has no dummy links).
  ip('-n', ns, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext1');
  ip('-n', ns, 'addr', 'add', '198.51.100.1/24', 'dev', 'ext0');
  ip('-n', ns, 'link', 'set', 'ext0', 'up');
  ip('-n', ns, 'link', 'set', 'ext1', 'up');
  ip('-n', ns, 'route', 'add', 'default', 'via', '198.51.100.254', 'dev', 'ext0');
  // A service only the namespace's own loopback offers: what slirp's gateway handed to every guest.
  // And the namespace's resolver, also on its loopback: the one host service a guest is meant to
  // reach, through passt's DNS address 10.0.2.3 (`ip netns exec` gives the daemon this resolv.conf).
  secretPort = await freePort();
  mkdirSync(`/etc/netns/${ns}`, { recursive: true });
  writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\n');
  server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `
    const s = require('node:net').createServer((c) => { c.on('error', () => {}); c.end('+PONG\\r\\n'); });
    // cunik.test A 192.0.2.53; any other question: no answer.
    const dns = require('node:dgram').createSocket('udp4');
    dns.on('message', (q, from) => {
      let end = 12;
      while (q[end] !== 0) end += q[end] + 1;
      const question = q.subarray(12, end + 5);
      const isA = q.readUInt16BE(end + 1) === 1 && q.subarray(12, end + 1).toString('latin1').toLowerCase() === '\\x05cunik\\x04test\\x00';
      const header = Buffer.from([q[0], q[1], 0x81, 0x80, 0, 1, 0, isA ? 1 : 0, 0, 0, 0, 0]);
      const answer = isA ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 53]) : Buffer.alloc(0);
      dns.send(Buffer.concat([header, question, answer]), from.port, from.address);
    });
    let up = 0;
    const ready = () => ++up === 2 && console.log('listening');
    s.listen(${secretPort}, '127.0.0.1', ready);
    dns.bind(53, '127.0.0.1', ready);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server!.stdout!.once('data', () => resolve());
    server!.once('exit', (code) => reject(new Error(`the loopback servers exited (${code})`)));
  });
  // User mode is what this file tests: a root daemon's default (bridge) would take -p too.
  d = await startDaemon({ netns: ns, args: USER_MODE });
  const ctx = join(d.dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Cunikfile'), 'family: linux\napp: /bin/busybox\nargs: [sh, -c, "echo no command"]\nmemory: 128M\n');
  const b = await run(['build', '-q', '-t', 'hostile', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
});

after(async () => {
  if (skip) return;
  await d?.stop();
  server?.kill('SIGKILL');
  ip('netns', 'del', ns);
  rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
});

// No double quotes: the kernel's command line cannot carry a quoted blank (families/linux-cmdline.ts).
const HOSTILE = [
  // Through the gateway to the host's loopback (slirp: +PONG), then the host's own address.
  'echo PING | nc -w 2 10.0.2.2 SECRET; echo gateway: $?',
  'echo PING | nc -w 2 198.51.100.1 SECRET; echo host address: $?',
  // DNS still works: 10.0.2.3 is forwarded to the host's resolver.
  'nslookup cunik.test 10.0.2.3; echo dns: $?',
  // A setuid-root file, device nodes and a symlink out, in a named volume and in a bound host folder.
  'for d in /share /bind; do cd $d && echo x > suid && chmod 4755 suid && mknod mem c 1 1 && mknod disk b 8 0 && ln -s /etc/shadow link && echo $d: made; ls -ln $d; done',
  'echo HOSTILE-DONE',
  'exec sleep 600',
].join('; ');

test('a hostile guest: no host loopback through the gateway, no setuid or device file through 9p, QEMU unprivileged under seccomp', { skip, timeout: 300_000 }, async () => {
  const info = await d.client.info();
  assert.equal(info.confinement.sandbox, true);
  assert.equal(info.confinement.user, 'cunik-vm');
  assert.deepEqual(info.confinement.warnings, []);
  const vm = { uid: info.confinement.uid, gid: info.confinement.gid };
  assert.notEqual(vm.uid, 0);
  const text = (await run(['info'])).stdout;
  assert.match(text, /^VM Confinement:\n Sandbox: on \(seccomp\)\n User: cunik-vm \(uid \d+, gid \d+\)\n User Network: \/\S*passt$/m, text);
  assert.doesNotMatch(text, /WARNING/);
  // A host folder the user has given the VM user (docs/volumes.md: QEMU reaches it as that user).
  const bind = join(d.dir, 'bind');
  mkdirSync(bind);
  chownSync(bind, vm.uid, vm.gid);

  const port = await freePort();
  const r = await run(['run', '-d', '--name', 'hostile', '-v', 'hvol:/share', '-v', `${bind}:/bind`, '-p', `127.0.0.1:${port}:80`, 'hostile', 'sh', '-c', HOSTILE.replaceAll('SECRET', String(secretPort))]);
  assert.equal(r.code, 0, r.stderr);
  const log = await waitFor('the hostile script', async () => {
    const out = (await run(['logs', 'hostile'])).stdout;
    return out.includes('HOSTILE-DONE') ? out : undefined;
  }, 240_000);
  assert.doesNotMatch(log, /PONG/, log);
  assert.match(log, /^gateway: [1-9]/m, log);
  assert.match(log, /^host address: [1-9]/m, log);
  assert.match(log, /^Address:\s+192\.0\.2\.53$/m, log);
  // The guest believes it made them (mapped-xattr keeps its view)...
  assert.match(log, /^\/share: made/m, log);
  assert.match(log, /^\/bind: made/m, log);
  assert.match(log, /^-rwsr-xr-x +1 0 +0 .* suid\r?$/m, log);
  assert.match(log, /^crw-r--r-- +1 0 +0 +1, +1 .* mem\r?$/m, log);
  // ...but the host has plain files of the VM user, no setuid bit, no device.
  const volume = JSON.parse((await run(['volume', 'inspect', 'hvol'])).stdout) as [{ mountpoint: string }];
  for (const dir of [volume[0].mountpoint, bind]) {
    for (const name of ['suid', 'mem', 'disk']) {
      const st = lstatSync(join(dir, name));
      assert.ok(st.isFile(), `${dir}/${name} is a regular file on the host`);
      assert.equal(st.mode & 0o7000, 0, `${dir}/${name} has no setuid/setgid/sticky bit on the host`);
      assert.equal(st.uid, vm.uid, `${dir}/${name} belongs to the VM user`);
    }
    // A symlink the guest makes is a file holding its target: no host program can follow it out.
    const link = lstatSync(join(dir, 'link'));
    assert.ok(link.isFile() && !link.isSymbolicLink(), `${dir}/link is not a symlink on the host`);
    assert.equal(readFileSync(join(dir, 'link'), 'utf8'), '/etc/shadow');
  }

  const detail = await d.client.inspectInstance('hostile');
  const q = procStatus(detail.pid!);
  assert.deepEqual(q['Uid']!.split(/\s+/), Array(4).fill(String(vm.uid)), 'QEMU runs as the VM user (real, effective, saved, fs)');
  assert.deepEqual(q['Gid']!.split(/\s+/), Array(4).fill(String(vm.gid)));
  assert.equal(q['Seccomp'], '2', 'QEMU runs under a seccomp filter');
  assert.equal(q['CapEff'], '0000000000000000');
  assert.equal(q['CapPrm'], '0000000000000000');
  assert.equal(q['NoNewPrivs'], '1');
  assert.doesNotMatch(readFileSync(`/proc/${detail.pid}/cmdline`, 'utf8'), /security_model=none/);
  const [passt] = passtFor(port);
  assert.ok(passt, 'passt runs beside the VM');
  const p = procStatus(passt);
  assert.equal(p['Uid']!.split(/\s+/)[0], String(vm.uid), 'passt runs as the VM user');
  assert.equal(p['CapEff'], '0000000000000000');
  assert.equal((await run(['rm', '-f', 'hostile'])).code, 0);
  await noPasst(port, 'after rm -f');
});

test('passt lives as long as its VM: gone after stop, kill, rm, and after a daemon killed and restarted (live restore)', { skip, timeout: 300_000 }, async () => {
  const port = await freePort();
  assert.equal((await run(['run', '-d', '--name', 'net', '-p', `127.0.0.1:${port}:80`, 'hostile', 'sleep', '600'])).code, 0);
  assert.equal(passtFor(port).length, 1);
  assert.equal((await run(['stop', '-t', '0', 'net'])).code, 0);
  assert.deepEqual(passtFor(port), [], 'stop returns once passt is gone');

  assert.equal((await run(['start', 'net'])).code, 0);
  assert.equal(passtFor(port).length, 1);
  assert.equal((await run(['kill', 'net'])).code, 0);
  await noPasst(port, 'after kill');

  assert.equal((await run(['start', 'net'])).code, 0);
  const before = passtFor(port);
  assert.equal(before.length, 1);
  const gone = new Promise((r) => d.proc.once('exit', r));
  d.proc.kill('SIGKILL');
  await gone;
  d.client.close();
  assert.deepEqual(passtFor(port), before, 'the VM and its passt outlive the daemon');
  d = await startDaemon({ dir: d.dir, netns: ns, args: USER_MODE });
  assert.equal((await d.client.inspectInstance('net')).state, 'running');
  assert.deepEqual(passtFor(port), before);
  assert.equal((await run(['rm', '-f', 'net'])).code, 0);
  await noPasst(port, 'after rm -f of an adopted VM');
});

test('passt that cannot start (its port taken after the daemon\'s check) ends the VM: the shim says why, nothing is left running', { timeout: 60_000 }, async () => {
  // Loopback only, and the guest (the hello kernel) never uses its NIC.
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'cunik-passt-'));
  try {
    const driver = new QemuDriver({ shim: join(repo, 'build', 'bin', 'cunik-shim') });
    const paths = { dir, pidfile: join(dir, 'qemu.pid'), qmpSocket: join(dir, 'qmp.sock'), consoleLog: join(dir, 'console.log'), consoleSocket: join(dir, 'console.sock'), vmmLog: join(dir, 'qemu.log'), exitFile: join(dir, 'exit') };
    const handle = await driver.start({
      machine: 'microvm', kernel: helloKernel, cmdline: 'idle', disks: [], memoryMiB: 64, cpus: 1, powerdown: 'none', debugExit: true,
      nics: [{ backend: { type: 'passt', guest: { ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2' }, forwards: [{ proto: 'tcp', hostAddr: '127.0.0.1', hostPort: port, guestPort: 80 }] } }],
    }, paths, 'tcg');
    const exit = await handle.exited;
    assert.equal(exit.signal, 'SIGKILL', 'the shim ended the VM');
    assert.match(exit.vmmError ?? '', /cunik-shim: the network helper \(passt\) exited with status 1: ending the VM/);
    assert.equal(passtBindFailure(exit.vmmError!), `cannot publish 127.0.0.1:${port}/tcp: the port is already in use on the host (passt could not listen on it)`);
    const left = readdirSync('/proc').filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir) && !procStatus(Number(pid))['State']?.startsWith('Z');
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, [], 'no QEMU or shim left');
    assert.deepEqual(passtFor(port), [], 'no passt left');
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
