// The firewall drivers' pure parts (src/network/bridge/firewall.ts, iptables.ts): which driver a
// host gets, and the exact iptables-restore input for networks and published ports. What the
// rules do in a kernel: test/integration/firewall-conformance.test.ts (both drivers).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseFirewall } from '../../src/network/bridge/firewall.js';
import { iptablesScripts } from '../../src/network/bridge/iptables.js';

test('nft when installed, iptables-nft where nft is missing, nft (to say it is missing) when neither is', () => {
  const has = (...cmds: string[]) => (c: string): boolean => cmds.includes(c);
  assert.equal(chooseFirewall(has('nft', 'iptables-nft', 'iptables-nft-restore')), 'nftables');
  assert.equal(chooseFirewall(has('iptables-nft', 'iptables-nft-restore')), 'iptables-nft');
  assert.equal(chooseFirewall(has('iptables-nft')), 'nftables', 'no restore: no atomic replace');
  assert.equal(chooseFirewall(has()), 'nftables');
});

test('iptables-restore input: Cunik chains only, declared (so flushed) then filled; internal, published, IPv6', () => {
  const { v4, v6 } = iptablesScripts(
    [
      { bridge: 'cunikbr-bbbbbbb', subnet: '10.213.6.0/24', internal: true },
      { bridge: 'cunikbr-aaaaaaa', subnet: '10.213.5.0/24', internal: false, subnet6: 'fd00:cafe:1::/64' },
    ],
    [
      { bridge: 'cunikbr-aaaaaaa', proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353, guestIp: '10.213.5.2', guestPort: 53 },
      { bridge: 'cunikbr-aaaaaaa', proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, guestIp: '10.213.5.2', guestPort: 80 },
      { bridge: 'cunikbr-gone000', proto: 'tcp', hostIp: '0.0.0.0', hostPort: 9, guestIp: '10.213.9.2', guestPort: 9 },
    ],
  );
  assert.equal(v4, [
    '*raw',
    ':CUNIK-GUARD - [0:0]',
    '-A CUNIK-GUARD -i cunikbr-aaaaaaa -s 127.0.0.0/8 -j DROP',
    '-A CUNIK-GUARD -i cunikbr-aaaaaaa -d 127.0.0.0/8 -j DROP',
    '-A CUNIK-GUARD -i cunikbr-bbbbbbb -s 127.0.0.0/8 -j DROP',
    '-A CUNIK-GUARD -i cunikbr-bbbbbbb -d 127.0.0.0/8 -j DROP',
    'COMMIT',
    '*nat',
    ':CUNIK-PREROUTING - [0:0]',
    ':CUNIK-OUTPUT - [0:0]',
    ':CUNIK-POSTROUTING - [0:0]',
    '-A CUNIK-PREROUTING -p udp -d 127.0.0.1/32 -m udp --dport 5353 -j DNAT --to-destination 10.213.5.2:53',
    '-A CUNIK-PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080 -j DNAT --to-destination 10.213.5.2:80',
    '-A CUNIK-OUTPUT -p udp -d 127.0.0.1/32 -m udp --dport 5353 -j DNAT --to-destination 10.213.5.2:53',
    '-A CUNIK-OUTPUT -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080 -j DNAT --to-destination 10.213.5.2:80',
    '-A CUNIK-POSTROUTING -s 10.213.5.0/24 ! -o cunikbr-aaaaaaa -j MASQUERADE',
    '-A CUNIK-POSTROUTING -s 127.0.0.0/8 -o cunikbr-aaaaaaa -j MASQUERADE',
    '-A CUNIK-POSTROUTING -s 10.213.5.0/24 -o cunikbr-aaaaaaa -m conntrack --ctstate DNAT -j MASQUERADE',
    'COMMIT',
    '*filter',
    ':CUNIK-FORWARD - [0:0]',
    '-A CUNIK-FORWARD -i cunikbr-aaaaaaa -o cunikbr-bbbbbbb -j DROP',
    '-A CUNIK-FORWARD -i cunikbr-aaaaaaa -j ACCEPT',
    '-A CUNIK-FORWARD -o cunikbr-aaaaaaa -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A CUNIK-FORWARD -o cunikbr-aaaaaaa -m conntrack --ctstate DNAT -j ACCEPT',
    '-A CUNIK-FORWARD -o cunikbr-aaaaaaa -j DROP',
    '-A CUNIK-FORWARD -i cunikbr-bbbbbbb -o cunikbr-aaaaaaa -j DROP',
    '-A CUNIK-FORWARD -i cunikbr-bbbbbbb ! -o cunikbr-bbbbbbb -j DROP',
    '-A CUNIK-FORWARD -o cunikbr-bbbbbbb ! -i cunikbr-bbbbbbb -j DROP',
    'COMMIT',
    '',
  ].join('\n'));
  assert.equal(v6, '*nat\n:CUNIK-POSTROUTING - [0:0]\n-A CUNIK-POSTROUTING -s fd00:cafe:1::/64 ! -o cunikbr-aaaaaaa -j MASQUERADE\nCOMMIT\n');
  for (const bad of [{ bridge: 'br; -j ACCEPT', subnet: '10.0.0.0/24', internal: false }, { bridge: 'cunikbr-x', subnet: '10.0.0.0/24 -j ACCEPT', internal: false }]) {
    assert.throws(() => iptablesScripts([bad], []), /not an interface name|not a subnet/);
  }
});
