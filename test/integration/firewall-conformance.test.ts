// One conformance suite for both firewall drivers (src/network/bridge/firewall.ts): nftables and
// iptables-nft (the fallback where `nft` is missing), each in namespaces of its own made here
// (test/helpers/netns.ts): "the host" with a bridge, a "guest" namespace plugged into it, and
// "another host" behind a veth pair. The same checks for each: a published port answers from the
// other host (DNAT) and from the host's 127.0.0.1 (hairpin), the guest's egress is masqueraded,
// an unpublished guest port is not reached from outside, a second apply changes nothing (no rule
// doubled), an apply without the port takes it away, and remove() leaves no chain, rule or table
// of Cunik's while another tool's rules stay exactly as they were.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, test } from 'node:test';
import { waitFor } from '../helpers/daemon.js';
import { netLab, PEER, HOST, type NetLab } from '../helpers/netns.js';
import { execIn, NftFirewall, type Firewall } from '../../src/network/bridge/firewall.js';
import { nftOps } from '../../src/network/bridge/host.js';
import { IptablesFirewall } from '../../src/network/bridge/iptables.js';

const BR = 'cunikbr-fwtest';
const GUEST = '10.214.40.2';
const labs: NetLab[] = [];
const servers: ChildProcess[] = [];

after(async () => {
  for (const s of servers) s.kill('SIGKILL');
  for (const l of labs) await l.close();
});

/** A TCP server in a namespace that answers each connection with `reply` (REMOTE: the client's address). */
async function serve(netns: string, host: string, port: number, reply: string): Promise<void> {
  const js = `require('node:net').createServer((c) => { c.on('error', () => {}); c.end(${JSON.stringify(reply)} === 'REMOTE' ? c.remoteAddress : ${JSON.stringify(reply)}); }).listen(${port}, ${JSON.stringify(host)}, () => console.log('listening'));`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', js], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`server in ${netns} exited (${code})`)));
  });
}

/** What a TCP server at host:port says to a client in `netns`; undefined if nothing answers within 2 s. */
async function tcp(lab: NetLab, netns: string, host: string, port: number): Promise<string | undefined> {
  const js = `const s = require('node:net').connect(${port}, ${JSON.stringify(host)}); let b = ''; s.on('data', (d) => (b += d)); s.on('end', () => { process.stdout.write(b); process.exit(0); }); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(1), 2000);`;
  try {
    return await lab.execAsync(netns, process.execPath, '-e', js);
  } catch {
    return undefined;
  }
}

/** The namespace's ruleset without counters (they change with traffic). */
const ruleset = (lab: NetLab): string => lab.exec(lab.ns, 'nft', 'list', 'ruleset').replace(/counter packets \d+ bytes \d+/g, 'counter');
/** Its rules only, sorted (iptables-nft leaves its empty built-in tables and chains: they hold no rule of anyone's). */
const rules = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== '}' && !/^(table|chain|type) /.test(l)).sort();

const drivers: [string, (ns: string) => Firewall][] = [
  ['nftables', (ns) => new NftFirewall(nftOps(execIn(ns)))],
  ['iptables-nft', (ns) => new IptablesFirewall(execIn(ns))],
];

for (const [i, [name, make]] of drivers.entries()) {
  test(`firewall driver ${name}: DNAT, hairpin, egress, isolation, idempotent, removed completely`, { timeout: 120_000 }, async () => {
    const lab = await netLab({ tag: `netleft-fw${i}`, peer: 'veth' });
    labs.push(lab);
    const guest = await netLab({ tag: `netleft-fg${i}` });
    labs.push(guest);
    const H = lab.ns;
    lab.ip('-n', H, 'link', 'add', BR, 'type', 'bridge');
    lab.ip('-n', H, 'addr', 'add', '10.214.40.1/24', 'dev', BR);
    lab.ip('-n', H, 'link', 'set', BR, 'up');
    lab.ip('-n', H, 'link', 'add', 'fwg0', 'type', 'veth', 'peer', 'name', 'fwg1', 'netns', guest.ns);
    lab.ip('-n', H, 'link', 'set', 'fwg0', 'master', BR, 'up');
    lab.ip('-n', guest.ns, 'addr', 'add', `${GUEST}/24`, 'dev', 'fwg1');
    lab.ip('-n', guest.ns, 'link', 'set', 'fwg1', 'up');
    lab.ip('-n', guest.ns, 'route', 'add', 'default', 'via', '10.214.40.1');
    // The other host could route to the guests: only the firewall keeps it out.
    lab.ip('-n', lab.peer, 'route', 'add', '10.214.40.0/24', 'via', HOST);
    lab.exec(H, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', `net.ipv4.conf.${BR}.route_localnet=1`);
    await serve(guest.ns, GUEST, 8080, 'guest');
    await serve(lab.peer, PEER, 9090, 'REMOTE');

    // Another tool's rules, before Cunik's: they must come through untouched.
    lab.exec(H, 'iptables-nft', '-w', '-A', 'FORWARD', '-s', '192.0.2.1', '-j', 'DROP');
    lab.exec(H, 'nft', 'add table ip other; add chain ip other c { type filter hook input priority 0; policy accept; }; add rule ip other c tcp dport 7 drop');
    const foreign = ruleset(lab);

    const fw = make(H);
    const net = { bridge: BR, subnet: '10.214.40.0/24', internal: false };
    const published = [{ bridge: BR, proto: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 18080, guestIp: GUEST, guestPort: 8080 }];
    await fw.apply([net], published);
    assert.equal(await waitFor('DNAT from the other host', () => tcp(lab, lab.peer, HOST, 18080), 20_000), 'guest');
    assert.equal(await tcp(lab, H, '127.0.0.1', 18080), 'guest', 'hairpin through 127.0.0.1');
    assert.equal(await tcp(lab, guest.ns, PEER, 9090), HOST, "the guest's egress leaves from the host's address");
    assert.equal(await tcp(lab, lab.peer, GUEST, 8080), undefined, 'an unpublished guest port is not reached from outside');
    assert.match(ruleset(lab), /cunik/i);

    const once = ruleset(lab);
    await fw.apply([net], published);
    assert.equal(ruleset(lab), once, 'a second apply changes nothing');

    await fw.apply([net], []);
    assert.equal(await tcp(lab, lab.peer, HOST, 18080), undefined, 'the port is gone with its rule');
    assert.equal(await tcp(lab, guest.ns, PEER, 9090), HOST, 'egress stays');

    await fw.remove();
    const left = ruleset(lab);
    assert.doesNotMatch(left, /cunik/i, 'nothing of Cunik is left');
    assert.deepEqual(rules(left), rules(foreign), "the other tools' rules are as they were");
    assert.match(left, /192\.0\.2\.1.* drop/);
    await fw.remove(); // a second remove finds nothing to do
    assert.equal(await tcp(lab, H, '127.0.0.1', 18080), undefined);
  });
}
