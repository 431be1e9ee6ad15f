// One network's responder: UDP and TCP port 53 on the network's gateway address(es). Queries from
// outside the network's subnets are dropped (the responder is no open resolver, whatever routes
// reach the gateway); the network's names are answered from its zone, the rest forwarded to the
// host's resolvers. docs/networking.md, "Names (DNS)".
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import { conflict } from '../../errors.js';
import { decide, relayAnswer, type Decision, type Transport } from './answer.js';
import { forwardTcp, forwardUdp, type ResolvConf } from './upstream.js';
import type { Zone } from './zone.js';

export interface ResponderOptions {
  zone: Zone;
  /** The addresses to listen on (the network's gateway, IPv4 and maybe IPv6). */
  addresses: readonly string[];
  /** An internal network: nothing is forwarded (SERVFAIL). */
  internal: boolean;
  port: number;
  upstream: ResolvConf;
  upstreamPort: number;
  /** Per upstream server, before the next one is tried. */
  timeoutMs: number;
  /** Addresses never to forward to (every network's gateway: forwarding to one would loop). */
  ownAddresses: () => ReadonlySet<string>;
  /** Shared by all responders: forwarded queries in flight, beyond which queries are dropped. */
  inflight: { count: number; max: number };
  log: (line: string) => void;
}

/** A TCP client gets this long without a complete query before the connection is closed. */
const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 64;
/** Queries one TCP connection may have unanswered at once (RFC 7766 pipelining). */
const TCP_MAX_PENDING = 16;

export class Responder {
  private readonly udp: UdpSocket[] = [];
  private readonly tcp: Server[] = [];
  private readonly conns = new Set<Socket>();

  constructor(private readonly o: ResponderOptions) {}

  /** Binds every address, UDP and TCP; on any failure nothing stays bound. */
  async start(): Promise<void> {
    try {
      for (const addr of this.o.addresses) {
        await this.listenUdp(addr);
        await this.listenTcp(addr);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    await Promise.all(this.udp.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
    await Promise.all(this.tcp.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private bindError(addr: string, proto: string, err: NodeJS.ErrnoException): Error {
    const where = `${isIPv4(addr) ? addr : `[${addr}]`}:${this.o.port}/${proto}`;
    if (err.code === 'EADDRINUSE') return conflict(`cannot answer DNS for network ${this.o.zone.network} on ${where}: the port is already in use (another DNS server listening on all addresses?)`);
    if (err.code === 'EADDRNOTAVAIL') return conflict(`cannot answer DNS for network ${this.o.zone.network} on ${where}: ${addr} is not an address of this host (is the network's bridge up?)`);
    return conflict(`cannot answer DNS for network ${this.o.zone.network} on ${where}: ${err.message}`);
  }

  private listenUdp(addr: string): Promise<void> {
    const sock = createSocket(isIPv4(addr) ? 'udp4' : 'udp6');
    return new Promise((resolve, reject) => {
      sock.once('error', (err) => reject(this.bindError(addr, 'udp', err)));
      sock.bind(this.o.port, addr, () => {
        sock.removeAllListeners('error');
        sock.on('error', (err) => this.o.log(`warning: DNS for network ${this.o.zone.network}: ${err.message}`));
        sock.on('message', (msg, rinfo) => {
          if (!this.o.zone.contains(rinfo.address)) return;
          void this.handle(msg, 'udp', rinfo.address).then((out) => out && sock.send(out, rinfo.port, rinfo.address, () => undefined));
        });
        this.udp.push(sock);
        resolve();
      });
    });
  }

  private listenTcp(addr: string): Promise<void> {
    const server = createServer((c) => this.onConnection(c));
    server.maxConnections = TCP_MAX_CONNECTIONS;
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(this.bindError(addr, 'tcp', err)));
      server.listen({ port: this.o.port, host: addr, exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.o.log(`warning: DNS for network ${this.o.zone.network}: ${err.message}`));
        this.tcp.push(server);
        resolve();
      });
    });
  }

  private onConnection(c: Socket): void {
    const from = c.remoteAddress;
    if (from === undefined || !this.o.zone.contains(from)) {
      c.destroy();
      return;
    }
    this.conns.add(c);
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => c.destroy());
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let pending = 0;
    c.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + msg.length);
        if (pending >= TCP_MAX_PENDING) {
          c.destroy();
          return;
        }
        pending++;
        void this.handle(msg, 'tcp', from).then((out) => {
          pending--;
          if (!out || c.destroyed) return;
          const framed = Buffer.alloc(out.length + 2);
          framed.writeUInt16BE(out.length, 0);
          out.copy(framed, 2);
          c.write(framed);
        });
      }
    });
  }

  /** The answer to send, or undefined to send nothing. Never throws. */
  private async handle(msg: Buffer, transport: Transport, from: string): Promise<Buffer | undefined> {
    let d: Decision;
    try {
      d = decide(msg, this.o.zone, transport);
    } catch (err) {
      this.o.log(`warning: DNS for network ${this.o.zone.network}: a query failed: ${(err as Error).message}`);
      return undefined;
    }
    if (d.kind === 'drop') return undefined;
    if (d.kind === 'reply') return d.packet;
    if (this.o.internal) return d.servfail;
    const { inflight } = this.o;
    if (inflight.count >= inflight.max) return undefined;
    inflight.count++;
    try {
      const own = this.o.ownAddresses();
      const servers = (this.o.zone.upstreamsFor(from) ?? (await this.o.upstream.servers())).filter((s) => !own.has(s));
      const send = transport === 'udp' ? forwardUdp : forwardTcp;
      for (const server of servers) {
        const answer = await send(msg, server, this.o.upstreamPort, this.o.timeoutMs, (raw, sentId) => relayAnswer(raw, sentId, d.question, d.id, d.limit));
        if (answer) return answer;
      }
      return d.servfail;
    } catch (err) {
      this.o.log(`warning: DNS for network ${this.o.zone.network}: forwarding failed: ${(err as Error).message}`);
      return d.servfail;
    } finally {
      inflight.count--;
    }
  }
}
