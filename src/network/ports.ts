// Published ports (run -p): validating what a request asks for. Pure; the host-side checks (is the
// port free, which free port to take) are in probe.ts. DESIGN.md, "Networking".
import { isIPv4 } from 'node:net';
import type { PortBinding, PortRequest } from '../api/schemas.js';
import { invalid } from '../errors.js';

/** Docker's default: all IPv4 addresses of the host. */
export const DEFAULT_HOST_IP = '0.0.0.0';


/**
 * Requests with their defaults filled in (tcp, 0.0.0.0, hostPort 0 = any), refusing what the
 * user-mode network cannot forward: a host address that is not IPv4 (the guests' networks are
 * IPv4 only: passt runs --ipv4-only) and the same host address, port and protocol twice.
 */
export function normalizePorts(requests: PortRequest[]): PortBinding[] {
  const seen = new Map<string, number>();
  return requests.map((r, i) => {
    const field = `ports[${i}]`;
    const b: PortBinding = { guestPort: r.guestPort, proto: r.proto ?? 'tcp', hostIp: r.hostIp ?? DEFAULT_HOST_IP, hostPort: r.hostPort ?? 0 };
    for (const [name, port, min] of [['guestPort', b.guestPort, 1], ['hostPort', b.hostPort, 0]] as const) {
      if (!Number.isInteger(port) || port < min || port > 65535) throw invalid(`${field}.${name} must be a port number (${min}-65535), got ${port}`, `${field}.${name}`);
    }
    if (b.proto !== 'tcp' && b.proto !== 'udp') throw invalid(`${field}.proto must be tcp or udp`, `${field}.proto`);
    if (!isIPv4(b.hostIp)) throw invalid(`${field}.hostIp must be an IPv4 address (user-mode networking forwards IPv4 only), got ${JSON.stringify(b.hostIp)}`, `${field}.hostIp`);
    if (b.hostPort !== 0) {
      // 0.0.0.0 overlaps every address: two bindings of one port and protocol clash if either is 0.0.0.0.
      for (const [key, j] of seen) {
        const [ip, port, proto] = key.split('|');
        if (port === String(b.hostPort) && proto === b.proto && (ip === b.hostIp || ip === DEFAULT_HOST_IP || b.hostIp === DEFAULT_HOST_IP)) {
          throw invalid(`${field}: host port ${formatHost(b)}/${b.proto} is already published by ports[${j}]`, field);
        }
      }
      seen.set(`${b.hostIp}|${b.hostPort}|${b.proto}`, i);
    }
    return b;
  });
}

/** "127.0.0.1:8080" */
export const formatHost = (b: Pick<PortBinding, 'hostIp' | 'hostPort'>): string => `${b.hostIp}:${b.hostPort}`;
