// Published ports as docker prints them. Pure.

export interface ShownPort {
  guestPort: number;
  proto: string;
  hostIp: string;
  hostPort: number;
}

/** ps: "127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp" */
export const psPorts = (ports: ShownPort[]): string => ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.guestPort}/${p.proto}`).join(', ');

/** port: "80/tcp -> 127.0.0.1:8080", one line each. */
export const portLines = (ports: ShownPort[]): string => ports.map((p) => `${p.guestPort}/${p.proto} -> ${p.hostIp}:${p.hostPort}\n`).join('');

/** "80" or "80/udp" → the guest port and protocol (default tcp). */
export function parseGuestPort(value: string): { guestPort: number; proto: 'tcp' | 'udp' } {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(value);
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new Error(`invalid port: ${value} (GUESTPORT[/tcp|/udp])`);
  return { guestPort: Number(m[1]), proto: (m[2]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp' };
}
