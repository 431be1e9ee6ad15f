// passt (Debian's `passt` package): the user-mode network of a VM. Pure: the helper's command line
// from a NIC's passt backend. Why passt rather than QEMU's slirp: slirp maps the guest's gateway
// (10.0.2.2) to the host's 127.0.0.1, so any guest reached every service bound to the host's
// loopback; passt with --no-map-gw does not (docs/networking.md). Options as in passt(1) of
// 0.0~git20230309 (Debian 12):
// - --fd 3: the socket comes from cunik-shim (one end of a socket pair, the other is QEMU's fd 3);
//   it implies --one-off: passt quits when QEMU's end closes. --foreground: the shim is its parent.
// - --quiet: no informational lines in the VM's log (errors still go there).
// - --ipv4-only, --no-dhcpv6, --no-ndp, --no-ra: the families configure IPv4 only.
// - --address/--netmask/--gateway: the guest's static settings (also what passt's DHCP hands out);
//   --dns-forward: queries to that address go to the host's first resolver.
// - -t/-u ADDR/HOST:GUEST for each published port (passt binds them before it drops privileges, so
//   ports below 1024 work for a root daemon); "-u none" unless UDP is published: passt otherwise
//   forwards the UDP ports of the TCP ones too.
// - --runas UID:GID: the VM user (else passt, started as root, changes to nobody itself).
import { invalid } from '../errors.js';
import type { NetBackend, PortForward } from '../vmm/types.js';

export const PASST_BINARY = 'passt';
/** The descriptor the VM's end of the socket pair has in QEMU (and passt's end in passt). */
export const PASST_FD = 3;

type Passt = Extract<NetBackend, { type: 'passt' }>;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function ipv4(value: string | undefined, field: string): string {
  if (value === undefined || !IPV4.test(value)) throw invalid(`${field} must be an IPv4 address, got ${JSON.stringify(value)}`, field);
  return value;
}

function forwardSpec(f: PortForward, field: string): string {
  for (const [name, n] of [['hostPort', f.hostPort], ['guestPort', f.guestPort]] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw invalid(`${field}.${name} must be a port number (1-65535), got ${n}`, `${field}.${name}`);
  }
  const host = f.hostAddr === undefined || f.hostAddr === '0.0.0.0' ? '' : `${ipv4(f.hostAddr, `${field}.hostAddr`)}/`;
  return `${host}${f.hostPort}:${f.guestPort}`;
}

export interface PasstArgvOptions {
  binary?: string;
  /** passt's --runas: the VM user as UID:GID. */
  runas?: string;
}

/** passt's argv (argv[0] = binary) for a VM's passt NIC. */
export function passtArgv(backend: Passt, opts: PasstArgvOptions = {}): string[] {
  const g = backend.guest;
  if (!Number.isInteger(g.prefix) || g.prefix < 1 || g.prefix > 30) throw invalid(`the guest's prefix length must be 1-30, got ${g.prefix}`, 'nics.guest.prefix');
  const argv = [opts.binary ?? PASST_BINARY, '--foreground', '--quiet', '--fd', String(PASST_FD), '--ipv4-only', '--no-dhcpv6', '--no-ndp', '--no-ra', '--no-map-gw'];
  argv.push('--address', ipv4(g.ip, 'guest.ip'), '--netmask', String(g.prefix), '--gateway', ipv4(g.gateway, 'guest.gateway'));
  if (g.dns !== undefined) argv.push('--dns-forward', ipv4(g.dns, 'guest.dns'));
  const specs = { tcp: [] as string[], udp: [] as string[] };
  backend.forwards.forEach((f, i) => {
    if (f.proto !== 'tcp' && f.proto !== 'udp') throw invalid(`forwards[${i}].proto must be tcp or udp`, `forwards[${i}].proto`);
    specs[f.proto].push(forwardSpec(f, `forwards[${i}]`));
  });
  // One option per port: passt takes one address per -t/-u.
  for (const s of specs.tcp) argv.push('-t', s);
  if (specs.udp.length === 0) argv.push('-u', 'none');
  for (const s of specs.udp) argv.push('-u', s);
  if (opts.runas !== undefined) {
    if (!/^\d+:\d+$/.test(opts.runas)) throw invalid(`passt's user must be UID:GID, got ${opts.runas}`, 'runas');
    argv.push('--runas', opts.runas);
  }
  return argv;
}

/**
 * passt's refusal to listen on a published port (another process took it after the daemon's
 * check), as the one-line message the daemon gives for a taken port; undefined for other errors.
 * passt says: "Failed to bind any port for '-t 127.0.0.1/8080:80', exiting".
 */
export function passtBindFailure(vmmError: string): string | undefined {
  const m = /Failed to bind any port for '-([tu]) (?:([\d.]+)\/)?(\d+):\d+'/.exec(vmmError);
  if (!m) return undefined;
  return `cannot publish ${m[2] ?? '0.0.0.0'}:${m[3]}/${m[1] === 't' ? 'tcp' : 'udp'}: the port is already in use on the host (passt could not listen on it)`;
}
