// Bridge networks end to end (issue 13's foundation): two linux guests (busybox, built by Cunik's
// builder) on one user-defined network reach each other by address; a guest on a normal network
// reaches "the internet" through NAT, one on an --internal network does not; bad input is refused
// in one line; and nothing leaks: after rm, after a VM killed while the daemon was SIGKILLed, and
// after network rm, no tap, no address allocation, no nft rule is left.
// Everything happens in two network namespaces made here: the daemon's (its bridges, taps and
// nftables table) and "the internet" (a server on 198.51.100.2, TEST-NET-2, reached by a veth
// pair). No address is put on the host's own namespace and nothing leaves this machine.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { killInstances, waitFor, waitGone } from '../helpers/daemon.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';
import { netLab, PEER, type NetLab } from '../helpers/netns.js';

const missing = linuxGuestMissing().join('; ');
let lab: NetLab;
let ns: string;
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

let ctx: string;
let server: ChildProcess | undefined;
const run = (args: string[]) => lab.run(args);

const taps = (): string[] => lab.taps();
const bridges = (): string[] => lab.links().filter((l) => l.startsWith('cunikbr-') || l === 'cunik0').sort();
function allocations(): string[] {
  const dir = join(lab.d.root, 'networks', 'ipam');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((net) => readdirSync(join(dir, net)));
}
/** Rules of table inet cunik (-1: no such table); other tables are not Cunik's and not counted. */
function nftRules(): number {
  const out = JSON.parse(lab.exec(ns, 'nft', '-j', 'list', 'ruleset')) as { nftables: Record<string, { family?: string; table?: string; name?: string }>[] };
  const items = out.nftables;
  if (!items.some((i) => i['table']?.family === 'inet' && i['table']?.name === 'cunik')) return -1;
  return items.filter((i) => i['rule']?.family === 'inet' && i['rule']?.table === 'cunik').length;
}

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  lab = await netLab({ tag: 'tb', peer: 'veth', defaultRoute: true });
  ns = lab.ns;
  // "The internet": it knows no route back to the guests' subnets, so only NAT'd traffic is answered.
  server = spawn('ip', ['netns', 'exec', lab.peer, process.execPath, '-e', `
    require('node:net').createServer((c) => { c.on('error', () => {}); c.end('hello from the internet\\n'); }).listen(8080, '${PEER}', () => console.log('listening'));`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server!.stdout!.once('data', () => resolve());
    server!.once('exit', (code) => reject(new Error(`the internet's server exited (${code})`)));
  });
  ctx = mkdtempSync(join(tmpdir(), 'cunik-bridge-'));
  mkdirSync(join(ctx, 'www'));
  writeFileSync(join(ctx, 'www', 'index.html'), '<h1>served over the bridge</h1>\n');
  writeFileSync(join(ctx, 'Cunikfile'), ['family: linux', 'app: /bin/busybox', 'files:', '  - { src: www/index.html, dst: /www/index.html }', 'args: [httpd, -f, -v, -p, "80", -h, /www]', 'memory: 128M', ''].join('\n'));
  await lab.start();
  const b = await run(['build', '-q', '-t', 'bridgeweb', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
});

after(async () => {
  server?.kill('SIGKILL');
  await lab?.close();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

// No double quotes: the kernel's command line cannot carry a quoted blank (families/linux-cmdline.ts).
// nc rather than wget: busybox-static's wget crashes in these guests (no resolver files).
const GET = (host: string): string => `(echo GET / HTTP/1.0; echo) | nc -w 3 ${host} 80`;
const tries = (cmd: string): string => `for i in $(seq 60); do ${cmd} && break; sleep 1; done`;
const CLIENT = [
  tries(`${GET('10.214.7.10')} | grep -q served`),
  `${GET('10.214.7.10')}; echo peer: $?`,
  'nc -w 3 198.51.100.2 8080 </dev/null; echo egress: $?',
  'echo CLIENT-DONE',
  'exec sleep 600',
].join('; ');
const SEALED = [
  tries('ping -c 1 -W 1 GATEWAY >/dev/null'),
  'ping -c 1 -W 1 GATEWAY >/dev/null; echo gateway: $?',
  'nc -w 3 198.51.100.2 8080 </dev/null; echo egress: $?',
  'echo SEALED-DONE',
  'exec sleep 600',
].join('; ');

const logsUntil = (name: string, marker: string): Promise<string> =>
  waitFor(`${name}'s script`, async () => {
    const out = (await run(['logs', name])).stdout;
    return out.includes(marker) ? out : undefined;
  }, 240_000);

test('bridge networks: guests reach each other by address, --internal has no egress, bad input is refused, nothing leaks', { timeout: 600_000 }, async () => {
  assert.deepEqual([taps(), allocations(), nftRules(), bridges()], [[], [], -1, []], 'nothing before');

  assert.equal((await run(['network', 'create', '--subnet', '10.214.7.0/24', '--label', 'tier=front', 'front'])).code, 0);
  const sealedMade = await run(['network', 'create', '--internal', 'sealed']);
  assert.equal(sealedMade.code, 0, sealedMade.stderr);
  const [front, sealed] = JSON.parse((await run(['network', 'inspect', 'front', 'sealed'])).stdout) as { subnet: string; gateway: string; internal: boolean; bridge: string; labels: Record<string, string> }[];
  assert.deepEqual([front!.subnet, front!.gateway, front!.internal, front!.labels], ['10.214.7.0/24', '10.214.7.1', false, { tier: 'front' }]);
  // From the pool, clear of the namespace's routes (198.51.100.0/24) and of front.
  assert.deepEqual([sealed!.subnet, sealed!.gateway, sealed!.internal], ['10.213.0.0/24', '10.213.0.1', true]);
  assert.deepEqual(bridges(), [front!.bridge, sealed!.bridge].sort());
  assert.match(ip('-n', ns, '-4', 'addr', 'show', 'dev', front!.bridge), /inet 10\.214\.7\.1\/24/);
  const ls = (await run(['network', 'ls'])).stdout;
  assert.match(ls, /^NETWORK ID +NAME +DRIVER +SUBNET +GATEWAY +INTERNAL\n/);
  assert.match(ls, /front +bridge +10\.214\.7\.0\/24 +10\.214\.7\.1 +false/);
  assert.equal((await run(['network', 'ls', '-q'])).stdout.trim().split('\n').length, 2);
  const rulesWithNetworks = nftRules();
  assert.ok(rulesWithNetworks > 0, 'table inet cunik holds the networks\' rules');

  // Bad input: one line, exit 125, nothing made.
  const bad: [string[], RegExp][] = [
    [['network', 'create', '--subnet', '10.214.7.128/25', 'clash'], /^cunik: subnet 10\.214\.7\.128\/25 overlaps 10\.214\.7\.0\/24 of network front\n$/],
    [['network', 'create', '--subnet', '10.215.0.0/24', '--gateway', '10.216.0.1', 'far'], /^cunik: gateway 10\.216\.0\.1 is not a host address of subnet 10\.215\.0\.0\/24\n$/],
    [['network', 'create', 'front'], /^cunik: network front already exists\n$/],
    [['run', '-d', '--network', 'front', '--ip', '10.215.0.9', 'bridgeweb'], /^cunik: --ip 10\.215\.0\.9 is not a host address of network front \(10\.214\.7\.0\/24\)\n$/],
    [['run', '-d', '--network', 'nosuchnet', 'bridgeweb'], /^cunik: no such network: nosuchnet\n$/],
    [['network', 'rm', 'nosuchnet'], /^cunik: no such network: nosuchnet\n$/],
  ];
  for (const [args, message] of bad) {
    const r = await run(args);
    assert.equal(r.code, 125, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
  }
  assert.equal((await run(['ps', '-a', '-q'])).stdout, '');
  assert.equal((await run(['network', 'ls', '-q'])).stdout.trim().split('\n').length, 2);

  const web = await run(['run', '-d', '--name', 'web1', '--network', 'front', '--ip', '10.214.7.10', 'bridgeweb']);
  assert.equal(web.code, 0, web.stderr);
  // The address is taken: a second instance asking for it does not start.
  const dup = await run(['run', '-d', '--name', 'dup', '--network', 'front', '--ip', '10.214.7.10', 'bridgeweb']);
  assert.equal(dup.code, 125);
  assert.match(dup.stderr, /^cunik: address 10\.214\.7\.10 of network front is already in use\n$/);
  assert.equal((await run(['rm', 'dup'])).code, 0);

  assert.equal((await run(['run', '-d', '--name', 'client1', '--network', 'front', 'bridgeweb', 'sh', '-c', CLIENT])).code, 0);
  assert.equal((await run(['run', '-d', '--name', 'client2', '--network', 'sealed', 'bridgeweb', 'sh', '-c', SEALED.replaceAll('GATEWAY', sealed!.gateway)])).code, 0);
  assert.equal(taps().length, 3);
  assert.equal(allocations().length, 3);
  const inspected = JSON.parse((await run(['inspect', 'client1'])).stdout) as [{ network: { mode: string; ipAddress: string; gateway: string; prefixLen: number; tap: string } }];
  assert.deepEqual([inspected[0].network.mode, inspected[0].network.ipAddress, inspected[0].network.gateway, inspected[0].network.prefixLen], ['front', '10.214.7.2', '10.214.7.1', 24]);
  assert.ok(taps().includes(inspected[0].network.tap));
  const members = (JSON.parse((await run(['network', 'inspect', 'front'])).stdout) as [{ instances: { name: string; ipAddress: string }[] }])[0].instances;
  assert.deepEqual(members.map((m) => `${m.name}=${m.ipAddress}`).sort(), ['client1=10.214.7.2', 'web1=10.214.7.10']);

  const log1 = await logsUntil('client1', 'CLIENT-DONE');
  assert.match(log1, /<h1>served over the bridge<\/h1>/, log1);
  assert.match(log1, /^peer: 0\r?$/m, log1);
  assert.match(log1, /hello from the internet/, log1);
  assert.match(log1, /^egress: 0\r?$/m, log1);
  const log2 = await logsUntil('client2', 'SEALED-DONE');
  assert.match(log2, /^gateway: 0\r?$/m, log2);
  assert.doesNotMatch(log2, /hello from the internet/, log2);
  assert.match(log2, /^egress: [1-9]\d*\r?$/m, log2);

  const inUse = await run(['network', 'rm', 'front']);
  assert.equal(inUse.code, 125);
  assert.match(inUse.stderr, /^cunik: network front is in use by instances (web1, client1|client1, web1)\n$/);

  // rm: the tap and the address go with the VM.
  assert.equal((await run(['rm', '-f', 'client1', 'client2'])).code, 0);
  await waitFor('the clients\' taps and addresses gone', () => (taps().length === 1 && allocations().length === 1) || undefined, 20_000);
  assert.equal(nftRules(), rulesWithNetworks, 'instances add no rules');

  // A daemon SIGKILLed, and web1's VM killed while it is down; a stray tap and allocation too:
  // the restarted daemon removes them all, and keeps the networks.
  const pids = killInstances(lab.d.root);
  await lab.kill();
  await waitGone(pids);
  ip('-n', ns, 'tuntap', 'add', 'dev', 'cunikt999999999', 'mode', 'tap');
  const ipamDir = join(lab.d.root, 'networks', 'ipam');
  writeFileSync(join(ipamDir, readdirSync(ipamDir)[0]!, '10.214.7.99'), 'f'.repeat(64));
  assert.equal(taps().length, 2);
  assert.equal(allocations().length, 2);
  await lab.start();
  assert.deepEqual([taps(), allocations()], [[], []], 'nothing of gone instances after the restart');
  assert.deepEqual(bridges(), [front!.bridge, sealed!.bridge].sort());
  assert.equal(nftRules(), rulesWithNetworks);
  assert.match((await run(['ps', '-a'])).stdout, /Exited .* web1\n/);

  // A restarted instance gets its address back; rm and network rm leave nothing.
  assert.equal((await run(['start', 'web1'])).code, 0);
  assert.deepEqual([taps().length, allocations()], [1, ['10.214.7.10']]);
  assert.equal((await run(['rm', '-f', 'web1'])).code, 0);
  await waitFor('web1\'s tap gone', () => taps().length === 0 || undefined, 20_000);
  assert.equal((await run(['network', 'rm', 'front', 'sealed'])).code, 0);
  assert.deepEqual([taps(), allocations(), nftRules(), bridges()], [[], [], -1, []], 'nothing after');
  assert.equal((await run(['network', 'ls', '-q'])).stdout, '');
});
