// Names on bridge networks, end to end (issue 13): two linux guests (busybox httpd, built by Cunik's
// builder) on one user-defined network fetch each other by instance name and by --network-alias
// through the daemon's DNS responder on the network's gateway; a name the network does not hold
// goes to the host's resolver (a fake one the test runs); a removed or stopped instance stops
// resolving at once; after a daemon SIGKILL and restart (live restore) the names resolve again,
// for the guests too; the default bridge network (cunik0, what `run` without --network gets from
// a root daemon) forwards but answers no instance names; an instance run with --dns keeps asking its
// gateway (its peers resolve) and its other names go to that resolver; network rm leaves no DNS listener.
// Everything happens in a network namespace made here; the daemon's resolv.conf is the
// namespace's own (/etc/netns/NS/resolv.conf, which `ip netns exec` mounts over /etc/resolv.conf),
// naming the fake upstream on the namespace's loopback. Nothing leaves this machine.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repo, waitFor } from '../helpers/daemon.js';
import { linuxGuestMissing } from '../helpers/linux-guest.js';
import { dig as digIn, netLab, plugProbe as plugIn, type NetLab } from '../helpers/netns.js';

const missing = linuxGuestMissing().join('; ');
/** The daemon's namespace, and the probe's (lab.peer): a veth on each network's bridge, where the test asks the responders from, as a guest would. */
let lab: NetLab;
let ns: string;
const SUBNET = '10.214.9.0/24';
const GW = '10.214.9.1';
const UPSTREAM_ANSWER = '192.0.2.77';
/** An instance's own resolver (run --dns), on another loopback address of the namespace. */
const OWN_RESOLVER = '127.0.0.2';
const OWN_ANSWER = '192.0.2.88';

let ctx: string;
let upstream: ChildProcess | undefined;
let ownUpstream: ChildProcess | undefined;
let ownAsked = '';
let upstreamAsked = '';
const run = (args: string[]) => lab.run(args);
const plugProbe = (bridge: string, gateway: string, tag: string): void => plugIn(lab, bridge, gateway, tag);
const dig = (server: string, name: string, type = 'A'): { status: string; answers: string[] } => digIn(lab, server, name, type);

/** UDP and TCP sockets listening on port 53 in the namespace, other than the fake upstreams' (on loopback). */
function dnsListeners(): string[] {
  const out = lab.exec(ns, 'ss', '-H', '-ln', '-tu', 'sport = :53');
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/)[4]!).filter((a) => !a.startsWith('127.')).sort();
}

// A fake upstream on ADDRESS: A for upstream.example (ANSWER), NXDOMAIN for anything else; it says what it was asked.
const upstreamScript = (address: string, answer: string): string => `
const dgram = require('node:dgram'); const packet = require('dns-packet');
const s = dgram.createSocket('udp4');
s.on('message', (msg, r) => {
  const q = packet.decode(msg); const name = q.questions[0].name;
  console.log('asked ' + name);
  const hit = name.toLowerCase() === 'upstream.example';
  s.send(packet.encode({ id: q.id, type: 'response', flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (hit ? 0 : 3), questions: q.questions,
    answers: hit ? [{ type: 'A', name, ttl: 60, data: '${answer}' }] : [] }), r.port, r.address);
});
s.bind(53, '${address}', () => console.log('listening'));`;

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  lab = await netLab({ tag: 'tn', peer: 'plain', resolvConf: 'nameserver 127.0.0.1\n' });
  ns = lab.ns;
  upstream = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', upstreamScript('127.0.0.1', UPSTREAM_ANSWER)], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  upstream.stdout!.on('data', (b: Buffer) => (upstreamAsked += b.toString()));
  ownUpstream = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', upstreamScript(OWN_RESOLVER, OWN_ANSWER)], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  ownUpstream.stdout!.on('data', (b: Buffer) => (ownAsked += b.toString()));
  await waitFor('the fake upstream resolvers', () => (upstreamAsked.includes('listening') && ownAsked.includes('listening')) || undefined, 20_000);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-names-'));
  mkdirSync(join(ctx, 'www'));
  writeFileSync(join(ctx, 'www', 'index.html'), 'placeholder\n');
  writeFileSync(join(ctx, 'Cunikfile'), ['family: linux', 'app: /bin/busybox', 'files:', '  - { src: www/index.html, dst: /www/index.html }', 'args: [httpd, -f, -p, "80", -h, /www]', 'memory: 128M', ''].join('\n'));
  await lab.start();
  const b = await run(['build', '-q', '-t', 'namesweb', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
});

after(async () => {
  upstream?.kill('SIGKILL');
  ownUpstream?.kill('SIGKILL');
  await lab?.close();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

// No double quotes or quoted blanks: the kernel's command line cannot carry them (families/linux-cmdline.ts).
// Each guest serves am-SELF, then keeps fetching its peer by name and by alias (by getaddrinfo:
// the guest's resolv.conf names the gateway), once resolves a name only the upstream knows, and
// counts its rounds so that a later success is told from an earlier one.
const GET = (host: string): string => `(echo GET / HTTP/1.0; echo) | nc -w 3 ${host} 80`;
const guest = (self: string, peer: string, alias: string): string =>
  [
    `echo am-${self} > /www/index.html`,
    'httpd -p 80 -h /www',
    'for i in $(seq 60); do ping -c 1 -W 1 upstream.example 2>&1 | grep -q 192.0.2.77 && echo forwarded-ok && break; sleep 1; done',
    `i=0; while true; do i=$((i+1)); ${GET(peer)} | grep -q am-${peer} && echo byname-ok-$i; ${GET(alias)} | grep -q am-${peer} && echo byalias-ok-$i; sleep 1; done`,
  ].join('; ');

const logs = async (name: string): Promise<string> => (await run(['logs', name])).stdout;
/** The highest round in which `what` succeeded (0: none yet). */
const lastOk = (log: string, what: string): number => Math.max(0, ...[...log.matchAll(new RegExp(`^${what}-ok-(\\d+)\\r?$`, 'gm'))].map((m) => Number(m[1])));
const round = (log: string): number => Math.max(0, ...[...log.matchAll(/^by(?:name|alias)-ok-(\d+)\r?$/gm)].map((m) => Number(m[1])));

test('instances on a user-defined network reach each other by name and alias; other names are forwarded; gone names stop at once; names survive a daemon SIGKILL', { timeout: 900_000 }, async () => {
  assert.equal((await run(['network', 'create', '--subnet', SUBNET, 'names'])).code, 0);
  plugProbe((JSON.parse((await run(['network', 'inspect', 'names'])).stdout) as [{ bridge: string }])[0].bridge, GW, 'n');
  assert.deepEqual(dnsListeners(), [`${GW}:53`, `${GW}:53`], 'a responder on the gateway, udp and tcp');

  // Bad aliases: one line, exit 125, nothing made.
  for (const [args, why] of [
    [['run', '-d', '--network-alias', 'x', 'namesweb'], /^cunik: network-scoped aliases are only supported for user-defined networks \(not --network bridge\)\n$/],
    [['run', '-d', '--network', 'names', '--network-alias', 'a b', 'namesweb'], /^cunik: invalid network alias "a b": give a DNS name/],
  ] as const) {
    const r = await run([...args]);
    assert.deepEqual([r.code, why.test(r.stderr)], [125, true], r.stderr);
  }
  assert.equal((await run(['ps', '-aq'])).stdout, '');

  for (const [self, peer] of [['web1', 'web2'], ['web2', 'web1']] as const) {
    const r = await run(['run', '-d', '--name', self, '--network', 'names', '--network-alias', `${self}-alias`, '--network-alias', 'shared', 'namesweb', 'sh', '-c', guest(self, peer, `${peer}-alias`)]);
    assert.equal(r.code, 0, r.stderr);
  }
  const [i1, i2] = JSON.parse((await run(['inspect', 'web1', 'web2'])).stdout) as { config: { aliases: string[] }; network: { ipAddress: string; dns: string[] } }[];
  assert.deepEqual([i1!.network.dns, i1!.config.aliases], [[GW], ['web1-alias', 'shared']]);
  const ip1 = i1!.network.ipAddress;
  const ip2 = i2!.network.ipAddress;

  // The responder, asked directly: names, aliases (a shared one gives both), NAME.NETWORK, PTR; forwarded; unknown.
  assert.deepEqual(dig(GW, 'web1').answers, [ip1]);
  assert.deepEqual(dig(GW, 'WEB2.names.').answers, [ip2]);
  assert.deepEqual(dig(GW, 'web2-alias').answers, [ip2]);
  assert.deepEqual(dig(GW, 'shared').answers.sort(), [ip1, ip2].sort());
  assert.deepEqual(dig(GW, ip1.split('.').reverse().join('.') + '.in-addr.arpa', 'PTR').answers, ['web1.names.']);
  assert.deepEqual(dig(GW, 'upstream.example').answers, [UPSTREAM_ANSWER]);
  assert.equal(dig(GW, 'ghost').status, 'NXDOMAIN');
  assert.equal(dig(GW, 'marker.example').status, 'NXDOMAIN');
  // The upstream logs in order: once it has seen the marker, it would have seen ghost before it.
  await waitFor('the upstream asked', () => upstreamAsked.includes('asked marker.example') || undefined);
  assert.match(upstreamAsked, /^asked upstream\.example$/m);
  assert.doesNotMatch(upstreamAsked, /asked ghost/, 'a single label the network does not hold never goes upstream');

  // The guests: each fetches the other by name and by alias, and resolves a forwarded name.
  for (const name of ['web1', 'web2']) {
    const log = await waitFor(`${name} fetching its peer by name and alias`, async () => {
      const l = await logs(name);
      return lastOk(l, 'byname') > 0 && lastOk(l, 'byalias') > 0 && /^forwarded-ok\r?$/m.test(l) ? l : undefined;
    }, 400_000);
    assert.match(log, /^forwarded-ok\r?$/m, log);
  }

  // --dns on a user-defined network (as Docker's embedded DNS): the guest still asks the gateway,
  // so web1 resolves, and the names that are not the network's go to its own resolver.
  const own = await run(['run', '-d', '--name', 'owndns', '--network', 'names', '--dns', OWN_RESOLVER, 'namesweb', 'sh', '-c',
    `for i in $(seq 60); do ping -c 1 -W 1 upstream.example 2>&1 | grep -q ${OWN_ANSWER} && echo own-dns-ok && break; sleep 1; done; while true; do ${GET('web1')} | grep -q am-web1 && echo peer-ok; sleep 1; done`]);
  assert.equal(own.code, 0, own.stderr);
  const [o] = JSON.parse((await run(['inspect', 'owndns'])).stdout) as { config: { dns: string[] }; network: { dns: string[] } }[];
  assert.deepEqual([o!.config.dns, o!.network.dns], [[OWN_RESOLVER], [GW]]);
  const ownLog = await waitFor('owndns resolving through its own resolver and its peer by name', async () => {
    const l = await logs('owndns');
    return /^own-dns-ok\r?$/m.test(l) && /^peer-ok\r?$/m.test(l) ? l : undefined;
  }, 400_000);
  assert.match(ownLog, /^own-dns-ok\r?$/m);
  assert.match(ownAsked, /^asked upstream\.example$/m);
  assert.equal((await run(['rm', '-f', 'owndns'])).code, 0);

  // Stopped, then started again: gone from the table the moment stop returns, back at the start.
  assert.equal((await run(['stop', '-t', '0', 'web2'])).code, 0);
  assert.deepEqual([dig(GW, 'web2').status, dig(GW, 'web2-alias').status, dig(GW, 'shared').answers], ['NXDOMAIN', 'NXDOMAIN', [ip1]]);
  assert.equal((await run(['start', 'web2'])).code, 0);
  const ip2b = (JSON.parse((await run(['inspect', 'web2'])).stdout) as [{ network: { ipAddress: string } }])[0].network.ipAddress;
  assert.deepEqual(dig(GW, 'web2').answers, [ip2b]);

  // A daemon SIGKILLed while both run: the restarted one (live restore) answers for them again,
  // and web1 goes on fetching web2 by name through it.
  await lab.kill();
  const before = round(await logs('web1').catch(() => '')); // the CLI fails while no daemon runs
  await lab.start();
  assert.deepEqual(dnsListeners().filter((a) => a.startsWith(GW)), [`${GW}:53`, `${GW}:53`]);
  assert.deepEqual([dig(GW, 'web1').answers, dig(GW, 'web2').answers, dig(GW, 'web1-alias').answers], [[ip1], [ip2b], [ip1]]);
  const base = Math.max(before, round(await logs('web1')));
  await waitFor('web1 fetching web2 by name after the restart', async () => (lastOk(await logs('web1'), 'byname') > base ? true : undefined), 300_000);

  // rm: the name goes at once.
  assert.equal((await run(['rm', '-f', 'web2'])).code, 0);
  assert.deepEqual([dig(GW, 'web2').status, dig(GW, 'web2-alias').status, dig(GW, 'shared').answers], ['NXDOMAIN', 'NXDOMAIN', [ip1]]);

  // The default network: what `run` without --network gets from a root daemon. Its responder
  // forwards but holds no instance names (Docker's default bridge has none either).
  assert.match((await run(['info'])).stdout, /^Default Network: bridge \(cunik0\)$/m);
  const plain = await run(['create', '--name', 'plain', 'namesweb']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal((await run(['start', 'plain'])).code, 0);
  const [p] = JSON.parse((await run(['inspect', 'plain'])).stdout) as { config: { network: string }; network: { gateway: string; dns: string[] } }[];
  const [bridge] = JSON.parse((await run(['network', 'inspect', 'bridge'])).stdout) as { bridge: string; gateway: string }[];
  assert.deepEqual([p!.config.network, bridge!.bridge, p!.network.dns], ['bridge', 'cunik0', [bridge!.gateway]]);
  plugProbe('cunik0', bridge!.gateway, 'd');
  assert.deepEqual(dig(bridge!.gateway, 'upstream.example').answers, [UPSTREAM_ANSWER]);
  assert.equal(dig(bridge!.gateway, 'plain').status, 'NXDOMAIN');
  assert.equal((await run(['rm', '-f', 'plain', 'web1'])).code, 0);

  // network rm: its responder goes; the default network's stays (the network does).
  assert.equal((await run(['network', 'rm', 'names'])).code, 0);
  assert.deepEqual(dnsListeners(), [`${bridge!.gateway}:53`, `${bridge!.gateway}:53`]);
});
