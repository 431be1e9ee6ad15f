// Cunik's firewall: one nftables table, `inet cunik`, holding every rule Cunik needs and nothing
// else. Pure: the whole table's text from the networks, applied as one `nft -f -` transaction
// (host.ts) that deletes the old table and adds the new one, so the kernel switches from one
// complete ruleset to the other or not at all; removing Cunik's rules is deleting the table.
// Other tools' tables (Docker's, firewalld's) are never read or written.
//
// Per network (bridge BR, subnet S):
// - forward: traffic between two guests of one bridge is switched by the bridge and never seen
//   here; guests of BR may not reach another Cunik network's guests (Docker's isolation);
//   an --internal network's guests reach nothing beyond their bridge (and nothing reaches them);
//   otherwise a guest's connections go out and their replies come back, and nothing else comes in
//   (as Docker's: a guest is reached from outside only through what it publishes).
// - postrouting (nat): a non-internal network's traffic leaving by another interface is
//   masqueraded behind that interface's address (egress).
import type { NetworkRecord } from './spec.js';

export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'cunik';

const quote = (ifname: string): string => {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) throw new Error(`not an interface name: ${JSON.stringify(ifname)}`);
  return `"${ifname}"`;
};

/** The text of table inet cunik for these networks (sorted by bridge, so the text is stable). */
export function rulesetText(networks: Pick<NetworkRecord, 'bridge' | 'subnet' | 'internal'>[]): string {
  const nets = [...networks].sort((a, b) => (a.bridge < b.bridge ? -1 : a.bridge > b.bridge ? 1 : 0));
  const forward: string[] = [];
  const nat: string[] = [];
  const all = nets.map((n) => quote(n.bridge));
  for (const n of nets) {
    const br = quote(n.bridge);
    const others = all.filter((b) => b !== br);
    if (others.length > 0) forward.push(`iifname ${br} oifname { ${others.join(', ')} } drop`);
    if (n.internal) {
      forward.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
    } else {
      forward.push(`iifname ${br} accept`, `oifname ${br} ct state established,related accept`, `oifname ${br} drop`);
      nat.push(`ip saddr ${n.subnet} oifname != ${br} masquerade`);
    }
  }
  const chain = (name: string, hook: string, rules: string[]): string[] => [`  chain ${name} {`, `    ${hook}`, ...rules.map((r) => `    ${r}`), '  }'];
  return [
    `table ${NFT_FAMILY} ${NFT_TABLE} {`,
    ...chain('forward', 'type filter hook forward priority filter; policy accept;', forward),
    ...chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', nat),
    '}',
    '',
  ].join('\n');
}

/**
 * The `nft -f -` script that replaces the table atomically: create it if missing (so the delete
 * cannot fail), delete it, add the new one, all in one transaction.
 */
export function replaceScript(networks: Pick<NetworkRecord, 'bridge' | 'subnet' | 'internal'>[]): string {
  return `table ${NFT_FAMILY} ${NFT_TABLE}\ndelete table ${NFT_FAMILY} ${NFT_TABLE}\n${rulesetText(networks)}`;
}
