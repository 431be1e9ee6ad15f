// Names beyond the first network (issue 13's leftovers), asked with dig from a probe namespace
// plugged into each bridge, as a guest would: per-network aliases (`--network name=N,alias=A`,
// `network connect --alias A`) answer on their own network only, on every NIC, and again after
// the daemon is SIGKILLed and restarted; a rename answers under the new name at once and no longer
// under the old; `-p` on an instance whose only network is --internal is refused at create, and
// on an internal + normal pair the ports go to the normal network's address; `--ip6` gives a
// fixed IPv6 address (AAAA too). Bad input: one line, exit 125, nothing changed.
// Everything in namespaces made here (test/helpers/netns.ts); the guests only sleep: names are
// registered when a start attaches the NIC, before the VM runs.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';
import { dig, netLab, plugProbe, type NetLab } from '../helpers/netns.js';

const missing = linuxGuestMissing().join('; ');
let lab: NetLab;
let ctx: string;
const run = (...args: string[]) => lab.run(args);
const ask = (gw: string, name: string, type = 'A'): string[] => {
  const r = dig(lab, gw, name, type);
  return r.status === 'NOERROR' ? r.answers.sort() : [r.status];
};
type Inspected = { config: { aliases?: string[]; ip6?: string; extraNetworks?: { network: string; aliases?: string[]; ip6?: string }[] }; network: { ipAddress: string; globalIPv6Address?: string }; extraNetworks?: { ipAddress: string }[] };
const inspect = async (name: string): Promise<Inspected> => (JSON.parse((await run('inspect', name)).stdout) as [Inspected])[0];
const bridgeOf = async (net: string): Promise<string> => (JSON.parse((await run('network', 'inspect', net)).stdout) as [{ bridge: string }])[0].bridge;
const ids = async (): Promise<string> => (await run('ps', '-aq')).stdout;
function allocations(): string[] {
  const dir = join(lab.d.root, 'networks', 'ipam');
  return existsSync(dir) ? readdirSync(dir).flatMap((n) => readdirSync(join(dir, n))).sort() : [];
}
/** A refusal: exit 125, exactly one line matching `why`, and the instances unchanged. */
async function refused(args: string[], why: RegExp): Promise<void> {
  const before = await ids();
  const r = await lab.run(args);
  assert.equal(r.code, 125, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, why, args.join(' '));
  assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  assert.equal(await ids(), before, `${args.join(' ')} changed the instances`);
}

const N1 = '10.214.21.1';
const N2 = '10.214.22.1';
const V6 = '10.214.23.1';

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  lab = await netLab({ tag: 'netleft-al', peer: 'plain' });
  ctx = mkdtempSync(join(tmpdir(), 'cunik-netleft-'));
  writeFileSync(join(ctx, 'Cunikfile'), ['family: linux', 'app: /bin/busybox', 'args: [sleep, "600"]', 'memory: 112M', ''].join('\n'));
  await lab.start();
  assert.match((await run('info')).stdout, /^Firewall: nftables \(table inet cunik\)$/m, 'nft is installed here: the nftables driver');
  const b = await run('build', '-q', '-t', 'aliasimg', ctx);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  for (const [subnet, name, ...more] of [['10.214.21.0/24', 'n1'], ['10.214.22.0/24', 'n2'], ['10.214.24.0/24', 'sealed', '--internal'], ['10.214.23.0/24', 'v6n', '--ipv6', '--subnet', 'fd00:cafe:23::/64']]) {
    const r = await run('network', 'create', '--subnet', subnet!, ...more, name!);
    assert.equal(r.code, 0, r.stderr);
  }
  plugProbe(lab, await bridgeOf('n1'), N1, '1');
  plugProbe(lab, await bridgeOf('n2'), N2, '2');
  plugProbe(lab, await bridgeOf('v6n'), V6, '6');
});

after(async () => {
  if (lab !== undefined && lab.d.proc.exitCode !== null) console.log(`the daemon exited: ${lab.d.stderr()}`);
  await lab?.close();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test('aliases on every network, after a rename and after a daemon SIGKILL; bad aliases refused', { timeout: 300_000 }, async () => {
  await refused(['run', '-d', '--network', 'name=n1,alias=', 'aliasimg'], /^cunik: .*invalid network option "alias="/);
  await refused(['run', '-d', '--network', 'n1', '--network', 'name=n2,alias=bad!name', 'aliasimg'], /^cunik: invalid network alias "bad!name": give a DNS name/);
  await refused(['run', '-d', '--network', 'n1', '--network', 'name=bridge,alias=x', 'aliasimg'], /^cunik: network-scoped aliases are only supported for user-defined networks \(not --network bridge\)\n$/);

  const a = await run('run', '-d', '--name', 'a', '--network', 'name=n1,alias=a1', '--network', 'name=n2,alias=a2,alias=a2b', 'aliasimg');
  assert.equal(a.code, 0, a.stderr);
  assert.equal((await run('create', '--name', 'b', '--network', 'n1', 'aliasimg')).code, 0);
  const bBefore = JSON.stringify((await inspect('b')).config);
  await refused(['network', 'connect', '--alias', 'not valid', 'n2', 'b'], /^cunik: invalid network alias "not valid"/);
  assert.equal(JSON.stringify((await inspect('b')).config), bBefore, 'b unchanged');
  assert.equal((await run('network', 'connect', '--alias', 'b2', '--alias', 'shared', 'n2', 'b')).code, 0);
  assert.equal((await run('start', 'b')).code, 0);

  const ia = await inspect('a');
  const ib = await inspect('b');
  assert.deepEqual([ia.config.aliases, ia.config.extraNetworks], [['a1'], [{ network: 'n2', aliases: ['a2', 'a2b'] }]]);
  assert.deepEqual(ib.config.extraNetworks, [{ network: 'n2', aliases: ['b2', 'shared'] }]);
  const [a1, a2, b1, b2] = [ia.network.ipAddress, ia.extraNetworks![0]!.ipAddress, ib.network.ipAddress, ib.extraNetworks![0]!.ipAddress];
  const expectN1 = (aName: string): void =>
    assert.deepEqual([ask(N1, aName), ask(N1, 'a1'), ask(N1, 'b'), ask(N1, 'a2'), ask(N1, 'b2')], [[a1], [a1], [b1], ['NXDOMAIN'], ['NXDOMAIN']], 'n1 holds its own aliases only');
  const expectN2 = (aName: string): void =>
    assert.deepEqual([ask(N2, aName), ask(N2, 'a2'), ask(N2, 'A2B.n2'), ask(N2, 'b2'), ask(N2, 'shared'), ask(N2, 'a1')], [[a2], [a2], [a2], [b2], [b2], ['NXDOMAIN']], "n2: the second NICs' aliases");
  expectN1('a');
  expectN2('a');

  // A rename answers under the new name at once, on every network; the old name is gone.
  assert.equal((await run('rename', 'a', 'alpha')).code, 0);
  assert.deepEqual([ask(N1, 'a'), ask(N2, 'a'), ask(N2, 'alpha.n2')], [['NXDOMAIN'], ['NXDOMAIN'], [a2]]);
  expectN1('alpha');
  expectN2('alpha');

  // SIGKILL and restart (live restore): every network's names and aliases answer again.
  await lab.kill();
  await lab.start();
  expectN1('alpha');
  expectN2('alpha');

  // Disconnecting the first network makes the next one first, with its aliases.
  assert.equal((await run('rm', '-f', 'alpha')).code, 0);
  assert.deepEqual([ask(N1, 'alpha'), ask(N2, 'a2')], [['NXDOMAIN'], ['NXDOMAIN']]);
  assert.equal((await run('stop', '-t', '0', 'b')).code, 0);
  assert.equal((await run('network', 'disconnect', 'n1', 'b')).code, 0);
  const moved = await inspect('b');
  assert.deepEqual([moved.config.aliases, moved.config.extraNetworks], [['b2', 'shared'], undefined]);
  assert.equal((await run('rm', '-f', 'b')).code, 0);
  // The exit's release deletes the taps first, then the port rules, then the addresses: wait for all.
  await waitFor('no tap or address left', () => (lab.taps().length === 0 && allocations().length === 0) || undefined, 20_000);
});

test('-p with only an --internal network is refused at create; with a normal one too, the ports go to it', { timeout: 300_000 }, async () => {
  await refused(['create', '--name', 'pin', '-p', '80', '--network', 'sealed', 'aliasimg'], /^cunik: network sealed is internal: nothing reaches its instances, so they cannot publish ports\n$/);
  await refused(['run', '-d', '-p', '127.0.0.1::80', '--network', 'sealed', 'aliasimg'], /^cunik: network sealed is internal/);
  const r = await run('run', '-d', '--name', 'pub', '-p', '127.0.0.1::80', '--network', 'sealed', '--network', 'n1', 'aliasimg');
  assert.equal(r.code, 0, r.stderr);
  const n1Ip = (await inspect('pub')).extraNetworks![0]!.ipAddress;
  assert.match(lab.exec(lab.ns, 'nft', 'list', 'table', 'inet', 'cunik'), new RegExp(` dnat ip to ${n1Ip.replace(/\./g, '\\.')}:80`), 'DNAT to the first network that is not internal');
  assert.equal((await run('rm', '-f', 'pub')).code, 0);
});

test('--ip6: a fixed IPv6 address (inspect, AAAA, connect); out of the subnet, in use, malformed, on a network without IPv6: refused', { timeout: 300_000 }, async () => {
  const r = await run('run', '-d', '--name', 'six', '--network', 'v6n', '--ip6', 'fd00:cafe:23:0::99', 'aliasimg');
  assert.equal(r.code, 0, r.stderr);
  const six = await inspect('six');
  assert.deepEqual([six.config.ip6, six.network.globalIPv6Address], ['fd00:cafe:23::99', 'fd00:cafe:23::99']);
  assert.deepEqual(ask(V6, 'six', 'AAAA'), ['fd00:cafe:23::99']);

  await refused(['run', '-d', '--network', 'v6n', '--ip6', 'fd00:cafe:99::1', 'aliasimg'], /^cunik: --ip6 fd00:cafe:99::1 is not a host address of network v6n \(fd00:cafe:23::\/64\)\n$/);
  await refused(['run', '-d', '--network', 'v6n', '--ip6', 'fd00:cafe:23::1', 'aliasimg'], /^cunik: --ip6 fd00:cafe:23::1 is the gateway of network v6n\n$/);
  await refused(['create', '--network', 'v6n', '--ip6', '10.214.23.9', 'aliasimg'], /^cunik: --ip6: "10\.214\.23\.9" is not an IPv6 address\n$/);
  await refused(['create', '--network', 'n1', '--ip6', 'fd00:cafe:23::9', 'aliasimg'], /^cunik: --ip6 needs a network with IPv6: network n1 has none \(network create --ipv6\)\n$/);
  await refused(['create', '--network', 'none', '--ip6', 'fd00:cafe:23::9', 'aliasimg'], /^cunik: conflicting options: --ip6 needs a bridge network \(not --network none\)\n$/);
  await refused(['create', '--network', 'bridge', '--ip6', 'fd00:cafe:23::9', 'aliasimg'], /^cunik: --ip6 needs a user-defined network made with --ipv6/);

  // In use: as --ip, the start fails in one line and leaves no address, tap or half of anything.
  const held = allocations();
  const dup = await run('run', '-d', '--name', 'dup', '--network', 'v6n', '--ip6', 'fd00:cafe:23::99', 'aliasimg');
  assert.equal(dup.code, 125);
  assert.equal(dup.stderr, 'cunik: address fd00:cafe:23::99 of network v6n is already in use\n');
  assert.deepEqual([allocations(), lab.taps().length], [held, 1], 'no address or tap of dup left');
  assert.equal((await run('rm', 'dup')).code, 0);

  // network connect --ip6: checked the same way; stored canonical.
  assert.equal((await run('create', '--name', 'late', '--network', 'n1', 'aliasimg')).code, 0);
  const lateBefore = JSON.stringify((await inspect('late')).config);
  await refused(['network', 'connect', '--ip6', 'fd00:cafe:77::1', 'v6n', 'late'], /^cunik: --ip6 fd00:cafe:77::1 is not a host address of network v6n/);
  assert.equal(JSON.stringify((await inspect('late')).config), lateBefore);
  assert.equal((await run('network', 'connect', '--ip6', 'FD00:CAFE:23::0:77', 'v6n', 'late')).code, 0);
  assert.deepEqual((await inspect('late')).config.extraNetworks, [{ network: 'v6n', ip6: 'fd00:cafe:23::77' }]);
  assert.equal((await run('rm', '-f', 'six', 'late')).code, 0);
  // The exit's release deletes the taps first, then the port rules, then the addresses: wait for all.
  await waitFor('no tap or address left', () => (lab.taps().length === 0 && allocations().length === 0) || undefined, 20_000);
});
