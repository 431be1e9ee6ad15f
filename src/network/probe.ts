// Host-side checks for published ports before QEMU starts: a port that is taken gives a clear
// CONFLICT instead of QEMU's "Could not set up host forwarding rule", and hostPort 0 becomes a free
// port the kernel picks. The check and QEMU's own bind are not atomic: another process can take
// the port in between, and then QEMU's error is reported (the VM does not start).
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { PortBinding } from '../api/schemas.js';
import { conflict, invalid } from '../errors.js';
import { formatHost } from './ports.js';

interface Held {
  port: number;
  release(): Promise<void>;
}

/** Bind hostIp:port (0: any) for the protocol and hold it until release(). */
export function hold(proto: 'tcp' | 'udp', hostIp: string, port: number): Promise<Held> {
  return new Promise((resolve, reject) => {
    if (proto === 'udp') {
      const sock = createSocket('udp4');
      sock.once('error', (err) => {
        sock.close();
        reject(err);
      });
      sock.bind({ address: hostIp, port, exclusive: true }, () => {
        resolve({ port: sock.address().port, release: () => new Promise((r) => sock.close(() => r())) });
      });
      return;
    }
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: hostIp, port, exclusive: true }, () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address !== null ? address.port : port,
        release: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

/**
 * The bindings with every hostPort 0 replaced by a free port, after checking that each fixed port
 * can be bound (all are held together, so two free ports never coincide). Errors name the port:
 * CONFLICT when taken, INVALID_ARGUMENT when not allowed.
 */
export async function bindablePorts(ports: PortBinding[]): Promise<PortBinding[]> {
  const held: Held[] = [];
  try {
    const out: PortBinding[] = [];
    for (const p of ports) {
      try {
        const h = await hold(p.proto, p.hostIp, p.hostPort);
        held.push(h);
        out.push({ ...p, hostPort: h.port });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const where = `${formatHost(p)}/${p.proto}`;
        if (code === 'EADDRINUSE') throw conflict(`cannot publish ${where}: the port is already in use on the host`);
        if (code === 'EACCES') throw invalid(`cannot publish ${where}: permission denied (ports below 1024 need root)`, 'ports');
        if (code === 'EADDRNOTAVAIL') throw invalid(`cannot publish ${where}: ${p.hostIp} is not an address of this host`, 'ports');
        throw err;
      }
    }
    return out;
  } finally {
    await Promise.all(held.map((h) => h.release()));
  }
}
