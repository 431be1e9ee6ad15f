// Managing bridge networks (issue 13): ls --filter/-q, prune with its filters, create's checks,
// in one network namespace made here (the daemon's bridges and nftables table live in it only).
// Instances are only created here, never started: "in use" is a record naming the network.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';

const missing = linuxGuestMissing().join('; ');
const ns = `cunik-tm-${process.pid}`;
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
let d: TestDaemon;
let ctx: string;
const run = (args: string[], input?: string) => cli(args, { socket: d.socket, ...(input !== undefined && { input }) });
const bridges = (): string[] => (JSON.parse(ip('-n', ns, '-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname).filter((l) => l.startsWith('cunikbr-')).sort();
const names = async (...args: string[]): Promise<string[]> => {
  const r = await run(['network', 'ls', '--format', 'json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name).sort();
};

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  ip('netns', 'add', ns);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  ctx = mkdtempSync(join(tmpdir(), 'cunik-netmgmt-'));
  writeFileSync(join(ctx, 'Cunikfile'), ['family: linux', 'app: /bin/busybox', 'args: [sleep, "600"]', 'memory: 128M', ''].join('\n'));
  d = await startDaemon({ netns: ns });
  const b = await run(['build', '-q', '-t', 'netmgmt', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
});

after(async () => {
  await d?.stop();
  try {
    ip('netns', 'del', ns);
  } catch {
    // never made
  }
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
