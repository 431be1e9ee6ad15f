// Published ports on bridge networks (issue 13): a busybox httpd guest with a UDP echo beside it,
// reached through 127.0.0.1 from the daemon's own namespace (hairpin DNAT) and through DNAT from a
// second namespace acting as another host (a veth pair, 198.51.100.0/24 TEST-NET-2), TCP and UDP;
// a taken port fails the start in one line before any VM; `cunik port`; then a daemon SIGKILLed
// while 10 instances publish ports, with Docker-style rules (FORWARD policy drop, DOCKER-USER)
// present: every port answers while the daemon is gone and after its restart, Docker's rules are
// untouched, and rm + network rm leave no rule, no port record, no accept in DOCKER-USER.
// Everything happens in namespaces made (and deleted) here; nothing leaves this machine.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repo, waitFor, waitGone } from '../helpers/daemon.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';
import { HOST, netLab, type NetLab } from '../helpers/netns.js';

const missing = linuxGuestMissing().join('; ');
let lab: NetLab;
let ns: string;
let peer: string;
const nft = (netns: string, ...args: string[]): string => lab.exec(netns, 'nft', ...args);

let ctx: string;
let holder: ChildProcess | undefined;
const run = (args: string[]) => lab.run(args);

const taps = (): string[] => lab.taps();
const portRecords = (): string[] => (existsSync(join(lab.d.root, 'networks', 'ports')) ? readdirSync(join(lab.d.root, 'networks', 'ports')) : []);
/** Rules of table inet cunik that DNAT (each published port has two: prerouting and output). */
const dnatRules = (): number => (nft(ns, 'list', 'table', 'inet', 'cunik').match(/ dnat ip to /g) ?? []).length;
const cunikAccepts = (): number => (nft(ns, 'list', 'chain', 'ip', 'filter', 'DOCKER-USER').match(/comment "cunik"/g) ?? []).length;

/** An HTTP GET from inside a namespace; the body, or undefined if nothing answered. */
async function get(netns: string, host: string, port: number): Promise<string | undefined> {
  try {
    return await lab.execAsync(netns, 'curl', '-s', '--max-time', '3', `http://${host}:${port}/`);
  } catch {
    return undefined;
  }
}

/** One UDP datagram from inside a namespace; the reply, or undefined after a second. */
async function udp(netns: string, host: string, port: number, text: string): Promise<string | undefined> {
  const js = `const s=require('node:dgram').createSocket('udp4');const t=setTimeout(()=>process.exit(1),1000);s.on('message',(m)=>{process.stdout.write(m);clearTimeout(t);s.close();});s.send(${JSON.stringify(text)},${port},${JSON.stringify(host)});`;
  try {
    return await lab.execAsync(netns, process.execPath, '-e', js);
  } catch {
    return undefined;
  }
}

const answers = (netns: string, host: string, port: number): Promise<string> =>
  waitFor(`http://${host}:${port}/ from ${netns}`, async () => {
    const body = await get(netns, host, port);
    return body?.includes('published over the bridge') ? body : undefined;
  }, 240_000);

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  lab = await netLab({ tag: 'tp', peer: 'veth' });
  ({ ns, peer } = lab);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-ports-'));
  mkdirSync(join(ctx, 'www'));
  writeFileSync(join(ctx, 'www', 'index.html'), '<h1>published over the bridge</h1>\n');
  execFileSync('gcc', ['-static', '-Os', '-s', '-o', join(ctx, 'udp-echo'), join(repo, 'test', 'fixtures', 'net', 'udp-echo.c')]);
  writeFileSync(join(ctx, 'Cunikfile'), [
    'family: linux',
    'app: /bin/busybox',
    'files:',
    '  - { src: www/index.html, dst: /www/index.html }',
    '  - { src: udp-echo, dst: /udp-echo, mode: "0755" }',
    'args: [sh, -c, "/udp-echo 5000 & exec httpd -f -p 80 -h /www"]',
    'ports: [80/tcp, 5000/udp]',
    'memory: 112M',
    '',
  ].join('\n'));
  await lab.start();
  const b = await run(['build', '-q', '-t', 'portweb', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  assert.equal((await run(['network', 'create', '--subnet', '10.214.9.0/24', 'pubnet'])).code, 0);
});

after(async () => {
  holder?.kill('SIGKILL');
  await lab?.close();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test('a taken host port fails the start in one line, exit 125, before any VM', async () => {
  holder = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `require('node:net').createServer().listen(0, '127.0.0.1', function () { console.log(this.address().port); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const taken = Number(await new Promise<string>((r) => holder!.stdout!.once('data', (b: Buffer) => r(b.toString().trim()))));
  const r = await run(['run', '-d', '--name', 'clash', '--network', 'pubnet', '-p', `${taken}:80`, 'portweb']);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, `cunik: cannot publish 0.0.0.0:${taken}/tcp: the port is already in use on the host\n`);
  assert.deepEqual([taps(), portRecords(), dnatRules()], [[], [], 0], 'no tap, no port record, no rule');
  assert.match((await run(['ps', '-a'])).stdout, /Created .* clash\n/);
  assert.equal((await run(['rm', 'clash'])).code, 0);
  holder.kill('SIGKILL');
  holder = undefined;
});

test('-p on a bridge network: TCP and UDP through 127.0.0.1 and through DNAT from another host; -P; cunik port', { timeout: 600_000 }, async () => {
  const r = await run(['run', '-d', '--name', 'web', '--network', 'pubnet', '-p', '18080:80', '-p', '127.0.0.1:15000:5000/udp', '-p', `${HOST}:15001:5000/udp`, 'portweb']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await answers(ns, '127.0.0.1', 18080), /published over the bridge/);
  assert.match(await answers(peer, HOST, 18080), /published over the bridge/);
  assert.equal(await waitFor('udp echo via 127.0.0.1', async () => udp(ns, '127.0.0.1', 15000, 'ping-local'), 60_000), 'ping-local');
  assert.equal(await waitFor('udp echo from the peer', async () => udp(peer, HOST, 15001, 'ping-peer'), 60_000), 'ping-peer');
  // 127.0.0.1:15000 is published on the loopback only: the other host does not reach it.
  assert.equal(await udp(peer, HOST, 15000, 'nope'), undefined);
  assert.deepEqual((await run(['port', 'web'])).stdout.split('\n').filter(Boolean).sort(), ['5000/udp -> 127.0.0.1:15000', `5000/udp -> ${HOST}:15001`, '80/tcp -> 0.0.0.0:18080'].sort());
  assert.equal((await run(['port', 'web', '80'])).stdout, '0.0.0.0:18080\n');

  // -P: the image's exposed ports (80/tcp, 5000/udp) and --expose's (8080/tcp) on free host ports.
  const all = await run(['run', '-d', '--name', 'every', '--network', 'pubnet', '-P', '--expose', '8080', 'portweb']);
  assert.equal(all.code, 0, all.stderr);
  const lines = (await run(['port', 'every'])).stdout.split('\n').filter(Boolean).sort();
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.match(lines[2]!, /^8080\/tcp -> 0\.0\.0\.0:\d+$/);
  assert.match(lines[0]!, /^5000\/udp -> 0\.0\.0\.0:\d+$/);
  assert.match(lines[1]!, /^80\/tcp -> 0\.0\.0\.0:\d+$/);
  const tcpPort = Number(/:(\d+)$/.exec(lines[1]!)![1]);
  const udpPort = Number(/:(\d+)$/.exec(lines[0]!)![1]);
  assert.match(await answers(peer, HOST, tcpPort), /published over the bridge/);
  assert.equal(await waitFor('-P udp', async () => udp(peer, HOST, udpPort, 'all'), 60_000), 'all');

  assert.equal((await run(['rm', '-f', 'web', 'every'])).code, 0);
  await waitFor('their rules gone', () => (dnatRules() === 0 && portRecords().length === 0 && taps().length === 0) || undefined, 20_000);
  assert.equal(await get(peer, HOST, 18080), undefined);
});

test('a daemon SIGKILLed while 10 instances publish ports, with Docker\'s FORWARD drop and DOCKER-USER: every port answers meanwhile and after the restart; nothing is left after rm', { timeout: 900_000 }, async () => {
  // What Docker (iptables-nft) leaves: FORWARD drops by default and jumps to DOCKER-USER first.
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
    input: [
      'table ip filter {',
      '  chain DOCKER-USER {',
      '    counter return',
      '  }',
      '  chain FORWARD {',
      '    type filter hook forward priority filter; policy drop;',
      '    counter jump DOCKER-USER',
      '  }',
      '}',
      '',
    ].join('\n'),
  });
  const dockerRules = (): string => nft(ns, 'list', 'table', 'ip', 'filter').replace(/\s*(oifname|iifname) "[^"]+" accept comment "cunik"/g, '').replace(/counter packets \d+ bytes \d+/g, 'counter');
  const dockerBefore = dockerRules();
  const names = Array.from({ length: 10 }, (_, i) => `p${i}`);
  const results = await Promise.all(names.map((n, i) => run(['run', '-d', '--name', n, '--network', 'pubnet', '-p', `${18100 + i}:80`, 'portweb'])));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.equal(cunikAccepts(), 2, 'one accept each way for the network');
  for (let i = 0; i < 10; i++) await answers(peer, HOST, 18100 + i);
  const rules = dnatRules();
  assert.equal(rules, 20);

  const victim = (JSON.parse((await run(['inspect', 'p9'])).stdout) as [{ pid: number }])[0].pid;
  await lab.kill();
  // p9's VM dies while no daemon runs: its ports must go at the restart.
  process.kill(victim, 'SIGKILL');
  await waitGone([victim]);
  // The rules are the kernel's: the ports answer while no daemon runs.
  assert.match(await answers(peer, HOST, 18103), /published over the bridge/);
  assert.match(await answers(ns, '127.0.0.1', 18107), /published over the bridge/);

  await lab.start();
  assert.equal(dnatRules(), rules - 2, "p9's two rules are gone, the others' stay");
  assert.equal(cunikAccepts(), 2, 'the accepts were replaced, not added again');
  assert.equal(dockerRules(), dockerBefore, "Docker's rules are as they were");
  assert.equal(await get(peer, HOST, 18109), undefined);
  for (let i = 0; i < 9; i++) {
    await answers(peer, HOST, 18100 + i);
    await answers(ns, '127.0.0.1', 18100 + i);
  }
  assert.equal(portRecords().length, 9);
  assert.equal((await run(['rm', '-f', ...names])).code, 0);
  await waitFor('every rule gone', () => (dnatRules() === 0 && portRecords().length === 0 && taps().length === 0) || undefined, 30_000);
  assert.equal(cunikAccepts(), 2, 'the network still forwards');
  assert.equal((await run(['network', 'rm', 'pubnet'])).code, 0);
  assert.equal(cunikAccepts(), 0, 'no accept of Cunik left in DOCKER-USER');
  assert.equal(dockerRules(), dockerBefore);
  assert.throws(() => nft(ns, 'list', 'table', 'inet', 'cunik'), /No such file or directory/);
});
