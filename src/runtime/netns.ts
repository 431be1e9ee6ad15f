// The VM in the container's network namespace (the one CNI set up for the pod): a tap beside the
// namespace's interface, joined to it by tc mirred redirects both ways (Kata Containers'
// "tcfilter" model), so the guest takes the interface's place: its address, gateway and MAC.
// Nothing is created outside that namespace; deleting the namespace removes everything.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { invalid } from '../errors.js';
import type { InstanceNetwork } from '../families/types.js';

/** What the namespace's interface had: the guest takes it over. */
export interface PodInterface {
  ifname: string;
  mac: string;
  mtu: number;
  ip: string;
  prefix: number;
  gateway?: string;
}

/** The tap's name for a container (names are per namespace; the hash keeps sidecars apart). */
export const tapName = (id: string): string => `cunik${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;

interface IpAddr {
  ifname?: string;
  address?: string;
  mtu?: number;
  link_type?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[];
}

/** The first non-loopback interface with a global IPv4 address (`ip -j addr` output), and the default gateway (`ip -j route`). Pure. */
export function podInterface(addrJson: string, routeJson: string, exclude: string[] = []): PodInterface | undefined {
  const links = JSON.parse(addrJson) as IpAddr[];
  for (const l of links) {
    if (l.link_type === 'loopback' || l.ifname === undefined || exclude.includes(l.ifname)) continue;
    const a = (l.addr_info ?? []).find((x) => x.family === 'inet' && x.scope !== 'host' && x.local !== undefined && x.prefixlen !== undefined);
    if (a === undefined || l.address === undefined) continue;
    const routes = JSON.parse(routeJson) as { dst?: string; gateway?: string; dev?: string }[];
    const gw = routes.find((r) => r.dst === 'default' && r.gateway !== undefined && (r.dev === undefined || r.dev === l.ifname));
    return { ifname: l.ifname, mac: l.address, mtu: l.mtu ?? 1500, ip: a.local!, prefix: a.prefixlen!, ...(gw?.gateway !== undefined && { gateway: gw.gateway }) };
  }
  return undefined;
}

/** `ip -batch` lines that make the tap; `tc -batch` lines that join it to the interface. Pure. */
export function tapCommands(pod: PodInterface, tap: string): { ip: string[]; tc: string[] } {
  return {
    ip: [`tuntap add dev ${tap} mode tap`, `link set dev ${tap} mtu ${pod.mtu}`, `link set dev ${tap} up`],
    tc: [
      `qdisc add dev ${pod.ifname} ingress`,
      `filter add dev ${pod.ifname} parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev ${tap}`,
      `qdisc add dev ${tap} ingress`,
      `filter add dev ${tap} parent ffff: protocol all u32 match u8 0 0 action mirred egress redirect dev ${pod.ifname}`,
    ],
  };
}

function inNetns(netns: string, argv: string[], input?: string): string {
  try {
    return execFileSync('nsenter', [`--net=${netns}`, ...argv], { encoding: 'utf8', input: input ?? '', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim().split('\n')[0];
    throw invalid(`network namespace ${netns}: ${argv[0]} failed: ${stderr || (err as Error).message}`);
  }
}

/** Make the tap in the namespace and hand the interface's traffic to it; the guest's settings. */
export function attachToNetns(netns: string, id: string, dns: string[]): { network: InstanceNetwork; tap: string; pod: PodInterface } {
  const tap = tapName(id);
  const pod = podInterface(inNetns(netns, ['ip', '-j', 'addr', 'show']), inNetns(netns, ['ip', '-j', 'route', 'show', 'default']), [tap]);
  if (pod === undefined) throw invalid(`network namespace ${netns} has no interface with an IPv4 address for the VM to take over`);
  const cmds = tapCommands(pod, tap);
  inNetns(netns, ['ip', '-batch', '-'], cmds.ip.join('\n') + '\n');
  try {
    inNetns(netns, ['tc', '-batch', '-'], cmds.tc.join('\n') + '\n');
  } catch (err) {
    detachFromNetns(netns, tap, pod.ifname);
    throw /File exists/.test((err as Error).message) ? invalid(`network namespace ${netns}: ${pod.ifname} already carries another VM's traffic`) : err;
  }
  return {
    tap,
    pod,
    network: { nic: { backend: { type: 'tap', ifname: tap }, mac: pod.mac }, ip: pod.ip, prefix: pod.prefix, ...(pod.gateway !== undefined && { gateway: pod.gateway }), dns },
  };
}

/** Undo attachToNetns (best effort: a namespace CNI already removed took both with it). */
export function detachFromNetns(netns: string, tap: string, ifname: string): void {
  for (const argv of [['ip', 'link', 'del', 'dev', tap], ['tc', 'qdisc', 'del', 'dev', ifname, 'ingress']]) {
    try {
      execFileSync('nsenter', [`--net=${netns}`, ...argv], { stdio: 'ignore' });
    } catch {
      /* gone already */
    }
  }
}

/** Nameservers of a resolv.conf (CRI bind-mounts the pod's over /etc/resolv.conf). Pure. */
export function nameservers(resolvConf: string): string[] {
  return resolvConf
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .slice(0, 3);
}
