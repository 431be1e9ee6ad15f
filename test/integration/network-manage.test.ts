// Managing bridge networks (issue 13): ls --filter/-q, prune with its filters, create's checks,
// in one network namespace made here (the daemon's bridges and nftables table live in it only).
// Instances are only created here, never started: "in use" is a record naming the network.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';
import { netLab, type NetLab } from '../helpers/netns.js';

const missing = linuxGuestMissing().join('; ');
let lab: NetLab;
let ns: string;
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
let ctx: string;
const run = (args: string[], input?: string) => lab.run(args, input);
const bridges = (): string[] => (JSON.parse(ip('-n', ns, '-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname).filter((l) => l.startsWith('cunikbr-')).sort();
const names = async (...args: string[]): Promise<string[]> => {
  const r = await run(['network', 'ls', '--format', 'json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name).sort();
};

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  lab = await netLab({ tag: 'tm' });
  ns = lab.ns;
  ctx = mkdtempSync(join(tmpdir(), 'cunik-netmgmt-'));
  writeFileSync(join(ctx, 'Cunikfile'), ['family: linux', 'app: /bin/busybox', 'args: [sleep, "600"]', 'memory: 128M', ''].join('\n'));
  await lab.start();
  const b = await run(['build', '-q', '-t', 'netmgmt', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
});

after(async () => {
  await lab?.close();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

test('network ls --filter and -q, prune (with -f, the prompt, --filter), create checks', { timeout: 300_000 }, async () => {
  for (const [name, ...flags] of [['alpha', '--label', 'env=test', '--label', 'tier=front'], ['beta', '--label', 'env=prod'], ['gamma']]) {
    const r = await run(['network', 'create', ...flags, name!]);
    assert.equal(r.code, 0, r.stderr);
  }
  const inUse = await run(['create', '--name', 'holder', '--network', 'beta', 'netmgmt']);
  assert.equal(inUse.code, 0, inUse.stderr);

  assert.deepEqual(await names(), ['alpha', 'beta', 'gamma']);
  assert.deepEqual(await names('--filter', 'name=alp'), ['alpha']);
  assert.deepEqual(await names('--filter', 'name=alpha', '--filter', 'name=gam'), ['alpha', 'gamma'], 'one key: any value');
  assert.deepEqual(await names('--filter', 'label=env'), ['alpha', 'beta']);
  assert.deepEqual(await names('--filter', 'label=env=test'), ['alpha']);
  assert.deepEqual(await names('--filter', 'label=env', '--filter', 'label=tier=front'), ['alpha'], 'labels: all must hold');
  assert.deepEqual(await names('--filter', 'dangling=true'), ['alpha', 'gamma']);
  assert.deepEqual(await names('--filter', 'dangling=false'), ['beta']);
  assert.deepEqual(await names('--filter', 'driver=bridge', '--filter', 'type=custom', '--filter', 'name=a'), ['alpha', 'beta', 'gamma']);
  assert.deepEqual(await names('--filter', 'type=builtin'), []);
  const alpha = (JSON.parse((await run(['network', 'inspect', 'alpha'])).stdout) as [{ id: string }])[0];
  assert.deepEqual(await names('--filter', `id=${alpha.id.slice(0, 6)}`), ['alpha']);
  const quiet = await run(['network', 'ls', '-q', '--filter', 'label=env=prod']);
  assert.match(quiet.stdout, /^[0-9a-f]{12}\n$/);
  for (const [args, why] of [
    [['network', 'ls', '--filter', 'colour=blue'], /^cunik: invalid filter "colour" for network ls \(one of name, id, label, driver, type, dangling\)\n$/],
    [['network', 'ls', '--filter', 'dangling=maybe'], /^cunik: invalid filter dangling=maybe \(true or false\)\n$/],
    [['network', 'ls', '--filter', 'name'], /^cunik: invalid filter: "name" \(KEY=VALUE\)\n$/],
    [['network', 'prune', '-f', '--filter', 'name=alpha'], /^cunik: invalid filter "name" for network prune/],
    [['network', 'create', '--gateway', '10.213.9.1', 'delta'], /^cunik: every ip-range or gateway must have a corresponding subnet: give --subnet with --gateway\n$/],
    [['network', 'create', '--ip-range', '10.213.9.0/25', 'delta'], /^cunik: every ip-range or gateway must have a corresponding subnet: give --subnet with --ip-range\n$/],
    [['network', 'create', '--subnet', '10.219.0.0/24', '--ip-range', '10.219.1.0/25', 'delta'], /^cunik: ip range 10\.219\.1\.0\/25 is not inside subnet 10\.219\.0\.0\/24\n$/],
  ] as [string[], RegExp][]) {
    const r = await run(args);
    assert.equal(r.code, 125, args.join(' '));
    assert.match(r.stderr, why, args.join(' '));
  }
  assert.deepEqual(await names(), ['alpha', 'beta', 'gamma'], 'nothing changed by bad input');

  // The prompt: "n" (or end of input) removes nothing.
  const no = await run(['network', 'prune'], 'n\n');
  assert.equal(no.code, 0);
  assert.match(no.stdout, /WARNING! This will remove all custom networks not used by at least one instance\./);
  assert.deepEqual(await names(), ['alpha', 'beta', 'gamma']);
  // --filter label!=: alpha (env=test) is kept; gamma goes; beta is in use.
  const some = await run(['network', 'prune', '-f', '--filter', 'label!=env=test']);
  assert.equal(some.code, 0, some.stderr);
  assert.equal(some.stdout, 'Deleted Networks:\ngamma\n\n');
  assert.deepEqual(await names(), ['alpha', 'beta']);
  // until: both were made just now, so nothing older than an hour.
  assert.equal((await run(['network', 'prune', '-f', '--filter', 'until=1h'])).stdout, '');
  const yes = await run(['network', 'prune'], 'y\n');
  assert.equal(yes.code, 0, yes.stderr);
  assert.match(yes.stdout, /Deleted Networks:\nalpha\n\n$/);
  assert.deepEqual(await names(), ['beta'], 'the network an instance names stays');
  assert.equal(bridges().length, 1);
  assert.equal((await run(['rm', 'holder'])).code, 0);
  assert.equal((await run(['network', 'prune', '-f'])).stdout, 'Deleted Networks:\nbeta\n\n');
  assert.deepEqual([await names(), bridges()], [[], []]);
});

const links = (): string[] => (JSON.parse(ip('-n', ns, '-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname);
const taps = (): string[] => links().filter((l) => l.startsWith('cunikt')).sort();
function allocations(): string[] {
  const dir = join(lab.d.root, 'networks', 'ipam');
  return existsSync(dir) ? readdirSync(dir).flatMap((net) => readdirSync(join(dir, net))).sort() : [];
}
// No double quotes: the kernel's command line cannot carry a quoted blank (families/linux-cmdline.ts).
const PINGS = [
  'for i in $(seq 90); do ping -c 1 -W 1 10.217.1.20 >/dev/null && ping -c 1 -W 1 10.217.2.30 >/dev/null && break; sleep 1; done',
  'ping -c 1 -W 1 10.217.1.20 >/dev/null; echo n1: $?',
  'ping -c 1 -W 1 10.217.2.30 >/dev/null; echo n2: $?',
  'cat /sys/class/net/eth*/address',
  'echo A-DONE',
  'exec sleep 600',
].join('; ');

test('several networks per instance (one NIC each, --mac-address), connect/disconnect, bad input', { timeout: 600_000 }, async () => {
  for (const [name, subnet] of [['n1', '10.217.1.0/24'], ['n2', '10.217.2.0/24'], ['n3', '10.217.3.0/24']]) assert.equal((await run(['network', 'create', '--subnet', subnet!, name!])).code, 0);
  for (const [name, net, addr] of [['b', 'n1', '10.217.1.20'], ['c', 'n2', '10.217.2.30']]) {
    const r = await run(['run', '-d', '--name', name!, '--network', net!, '--ip', addr!, 'netmgmt']);
    assert.equal(r.code, 0, r.stderr);
  }
  const a = await run(['run', '-d', '--name', 'a', '--network', 'n1', '--mac-address', '02:00:00:00:01:0A', '--network', 'name=n2,ip=10.217.2.10', 'netmgmt', 'sh', '-c', PINGS]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(taps().length, 4, 'a tap per NIC');
  assert.deepEqual(allocations(), ['10.217.1.2', '10.217.1.20', '10.217.2.10', '10.217.2.30']);
  type Inspected = { config: { network: string; macAddress?: string; extraNetworks?: { network: string; ip?: string }[] }; network: { mode: string; ipAddress: string; macAddress: string; tap: string }; extraNetworks?: { mode: string; ipAddress: string; macAddress: string; tap: string }[] };
  const inspect = async (name: string): Promise<Inspected> => (JSON.parse((await run(['inspect', name])).stdout) as Inspected[])[0]!;
  const ia = await inspect('a');
  assert.deepEqual([ia.network.mode, ia.network.ipAddress, ia.network.macAddress], ['n1', '10.217.1.2', '02:00:00:00:01:0a']);
  assert.deepEqual(ia.extraNetworks?.map((n) => [n.mode, n.ipAddress, n.macAddress]), [['n2', '10.217.2.10', '02:43:0a:d9:02:0a']]);
  assert.notEqual(ia.network.tap, ia.extraNetworks![0]!.tap);
  const members = (JSON.parse((await run(['network', 'inspect', 'n2'])).stdout) as [{ instances: { name: string; ipAddress: string }[] }])[0].instances;
  assert.deepEqual(members.map((m) => `${m.name}=${m.ipAddress}`).sort(), ['a=10.217.2.10', 'c=10.217.2.30']);

  const log = await waitFor('a\'s pings', async () => {
    const out = (await run(['logs', 'a'])).stdout;
    return out.includes('A-DONE') ? out : undefined;
  }, 300_000);
  assert.match(log, /^n1: 0\r?$/m, log);
  assert.match(log, /^n2: 0\r?$/m, log);
  assert.match(log, /^02:00:00:00:01:0a\r?$/m, log);
  assert.match(log, /^02:43:0a:d9:02:0a\r?$/m, log);

  // Bad input: one line, exit 125, nothing changed.
  const bad: [string[], RegExp][] = [
    [['network', 'connect', 'n3', 'a'], /^cunik: cannot connect running instance a to network n3: a linux guest cannot take a new network device while it runs; stop it first \(the change applies at its next start\)\n$/],
    [['network', 'disconnect', 'n2', 'a'], /^cunik: cannot disconnect running instance a from network n2: a linux guest cannot lose a network device while it runs/],
    [['network', 'connect', 'nosuch', 'a'], /^cunik: no such network: nosuch\n$/],
    [['network', 'disconnect', 'nosuch', 'a'], /^cunik: no such network: nosuch\n$/],
    [['network', 'disconnect', 'n3', 'a'], /^cunik: instance a is not connected to network n3\n$/],
    [['network', 'connect', 'n1', 'a'], /^cunik: instance a is already connected to network n1\n$/],
    [['network', 'connect', 'n1', 'nobody'], /^cunik: no such instance: nobody\n$/],
    [['network', 'rm', 'n2'], /^cunik: network n2 is in use by instances (a, c|c, a)\n$/],
    [['run', '-d', '--network', 'n1', '--network', 'n1', 'netmgmt'], /^cunik: network n1 is given twice\n$/],
    [['run', '-d', '--network', 'user', '--network', 'n1', 'netmgmt'], /^cunik: --network user cannot be combined with other networks \(only bridge networks can be several\)\n$/],
    [['run', '-d', '--network', 'n1', '--network', 'name=n2,ip=10.217.1.9', 'netmgmt'], /^cunik: --ip 10\.217\.1\.9 is not a host address of network n2 \(10\.217\.2\.0\/24\)\n$/],
    [['run', '-d', '--network', 'n1', '--mac-address', '01:00:5e:00:00:01', 'netmgmt'], /^cunik: --mac-address 01:00:5e:00:00:01 is not a unicast address/],
    [['run', '-d', '--network', 'n1', '--mac-address', 'nope', 'netmgmt'], /^cunik: --mac-address: "nope" is not a MAC address/],
    [['run', '-d', '--network', 'user', '--mac-address', '02:00:00:00:00:01', 'netmgmt'], /^cunik: conflicting options: --mac-address needs a bridge network \(not --network user\)\n$/],
  ];
  const state = async (): Promise<string> => {
    const i = await inspect('a');
    return JSON.stringify([i.config, i.network, i.extraNetworks]);
  };
  const before = await state();
  for (const [args, why] of bad) {
    const r = await run(args);
    assert.equal(r.code, 125, args.join(' '));
    assert.match(r.stderr, why, args.join(' '));
  }
  assert.equal(await state(), before, 'a unchanged');
  assert.equal((await run(['ps', '-a', '-q'])).stdout.trim().split('\n').length, 3, 'no instance made by bad input');
  assert.equal(taps().length, 4);

  // Stopped: disconnect the first network (the second becomes the first), connect another with a fixed
  // address; the next start has exactly those NICs.
  assert.equal((await run(['stop', '-t', '0', 'a'])).code, 0);
  await waitFor('a\'s taps and addresses gone', () => (taps().length === 2 && allocations().length === 2) || undefined, 20_000);
  assert.equal((await run(['network', 'disconnect', 'n1', 'a'])).code, 0);
  const conn = await run(['network', 'connect', '--ip', '10.217.3.7', 'n3', 'a']);
  assert.equal(conn.code, 0, conn.stderr);
  const ib = await inspect('a');
  assert.deepEqual([ib.config.network, ib.config.macAddress, ib.config.extraNetworks], ['n2', undefined, [{ network: 'n3', ip: '10.217.3.7' }]]);
  assert.equal((await run(['start', 'a'])).code, 0);
  const ic = await inspect('a');
  assert.deepEqual([ic.network.mode, ic.network.ipAddress, ic.extraNetworks?.map((n) => [n.mode, n.ipAddress])], ['n2', '10.217.2.10', [['n3', '10.217.3.7']]]);
  assert.deepEqual(allocations(), ['10.217.1.20', '10.217.2.10', '10.217.2.30', '10.217.3.7']);
  assert.equal(taps().length, 4);

  assert.equal((await run(['rm', '-f', 'a', 'b', 'c'])).code, 0);
  // The taps go first, then the addresses (BridgeNetworks.release).
  await waitFor('every tap and address gone', () => (taps().length === 0 && allocations().length === 0) || undefined, 20_000);
  assert.equal((await run(['network', 'rm', 'n1', 'n2', 'n3'])).code, 0);
});

test('IPv6 on a unique local subnet: guests reach each other over IPv6 and the outside through NAT66', { timeout: 600_000 }, async () => {
  // "The outside": a second namespace behind a veth pair on 2001:db8:1::/64 (documentation addresses),
  // with no route back to the guests' fd00:cafe:1::/64: only masqueraded traffic is answered.
  const out6 = `cunik-t6-${process.pid}`;
  ip('netns', 'add', out6);
  try {
    ip('-n', ns, 'link', 'add', 'ext6a', 'type', 'veth', 'peer', 'name', 'ext6b', 'netns', out6);
    ip('-n', ns, '-6', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'ext6a', 'nodad');
    ip('-n', out6, '-6', 'addr', 'add', '2001:db8:1::2/64', 'dev', 'ext6b', 'nodad');
    ip('-n', ns, 'link', 'set', 'ext6a', 'up');
    ip('-n', out6, 'link', 'set', 'ext6b', 'up');
    ip('-n', ns, '-6', 'route', 'add', 'default', 'via', '2001:db8:1::2', 'dev', 'ext6a');

    const made = await run(['network', 'create', '--ipv6', '--subnet', '10.218.0.0/24', '--subnet', 'fd00:cafe:1::/64', 'v6net']);
    assert.equal(made.code, 0, made.stderr);
    const [net] = JSON.parse((await run(['network', 'inspect', 'v6net'])).stdout) as [{ subnet: string; subnet6: string; gateway6: string; bridge: string }];
    assert.deepEqual([net.subnet, net.subnet6, net.gateway6], ['10.218.0.0/24', 'fd00:cafe:1::/64', 'fd00:cafe:1::1']);
    assert.match(ip('-n', ns, '-6', 'addr', 'show', 'dev', net.bridge), /inet6 fd00:cafe:1::1\/64/);
    const ruleset = execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'cunik'], { encoding: 'utf8' });
    assert.match(ruleset, /ip6 saddr fd00:cafe:1::\/64 oifname != "cunikbr-[0-9a-f]{7}" masquerade/);
    const random = await run(['network', 'create', '--ipv6', 'v6auto']);
    assert.equal(random.code, 0, random.stderr);
    assert.match((JSON.parse((await run(['network', 'inspect', 'v6auto'])).stdout) as [{ subnet6: string }])[0].subnet6, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
    for (const [args, why] of [
      [['network', 'create', '--ipv6', '--subnet', 'fd00:cafe:1:0:8000::/65', 'clash6'], /^cunik: subnet fd00:cafe:1:0:8000::\/65 overlaps fd00:cafe:1::\/64 of network v6net\n$/],
      [['network', 'create', '--subnet', 'fd00:beef::/64', 'nov6'], /^cunik: an IPv6 subnet needs --ipv6\n$/],
      [['network', 'create', '--ipv6', '--subnet', 'fd00:beef::/64', '--gateway', 'fd00:dead::1', 'far6'], /^cunik: gateway fd00:dead::1 is not a host address of subnet fd00:beef::\/64\n$/],
      [['network', 'create', '--ipv6', '--subnet', 'fd00:beef::1/64', 'bits6'], /^cunik: subnet: fd00:beef::1\/64 has host bits set \(did you mean fd00:beef::\/64\?\)\n$/],
    ] as [string[], RegExp][]) {
      const r = await run(args);
      assert.equal(r.code, 125, args.join(' '));
      assert.match(r.stderr, why, args.join(' '));
    }
    assert.equal((await run(['network', 'rm', 'v6auto'])).code, 0);

    assert.equal((await run(['run', '-d', '--name', 'peer6', '--network', 'v6net', 'netmgmt'])).code, 0);
    const script = [
      'for i in $(seq 90); do ping6 -c 1 -W 1 fd00:cafe:1::2 >/dev/null && break; sleep 1; done',
      'ping6 -c 1 -W 1 fd00:cafe:1::2 >/dev/null; echo peer6: $?',
      'ping6 -c 1 -W 1 fd00:cafe:1::1 >/dev/null; echo gateway6: $?',
      'ping6 -c 1 -W 2 2001:db8:1::2 >/dev/null; echo egress6: $?',
      'echo V6-DONE',
      'exec sleep 600',
    ].join('; ');
    const a = await run(['run', '-d', '--name', 'client6', '--network', 'v6net', 'netmgmt', 'sh', '-c', script]);
    assert.equal(a.code, 0, a.stderr);
    const [ia] = JSON.parse((await run(['inspect', 'client6'])).stdout) as [{ network: { ipAddress: string; globalIPv6Address?: string; globalIPv6PrefixLen?: number; ipv6Gateway?: string } }];
    assert.deepEqual([ia.network.ipAddress, ia.network.globalIPv6Address, ia.network.globalIPv6PrefixLen, ia.network.ipv6Gateway], ['10.218.0.3', 'fd00:cafe:1::3', 64, 'fd00:cafe:1::1']);
    const members = (JSON.parse((await run(['network', 'inspect', 'v6net'])).stdout) as [{ instances: { name: string; ipAddress: string; ipv6Address?: string }[] }])[0].instances;
    assert.deepEqual(members.map((m) => `${m.name}=${m.ipAddress},${m.ipv6Address}`).sort(), ['client6=10.218.0.3,fd00:cafe:1::3', 'peer6=10.218.0.2,fd00:cafe:1::2']);
    const log = await waitFor('client6\'s pings', async () => {
      const o = (await run(['logs', 'client6'])).stdout;
      return o.includes('V6-DONE') ? o : undefined;
    }, 300_000);
    assert.match(log, /^peer6: 0\r?$/m, log);
    assert.match(log, /^gateway6: 0\r?$/m, log);
    assert.match(log, /^egress6: 0\r?$/m, log);

    assert.equal((await run(['rm', '-f', 'client6', 'peer6'])).code, 0);
    await waitFor('every tap and address gone', () => (taps().length === 0 && allocations().length === 0) || undefined, 20_000);
    assert.equal((await run(['network', 'rm', 'v6net'])).code, 0);
  } finally {
    ip('netns', 'del', out6);
  }
});
