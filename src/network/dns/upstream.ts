// The host's resolvers, to which the responder forwards every name that is not the network's.
// The daemon runs in the host's network namespace, so it asks exactly the servers the host itself
// uses, loopback stubs such as systemd-resolved's 127.0.0.53 included (Docker's embedded DNS does
// the same since 26.0: it forwards from the host's namespace; only the resolv.conf it writes into a
// container has to leave loopback servers out). docs/networking.md, "Names (DNS)".
import { createSocket } from 'node:dgram';
import { stat, readFile } from 'node:fs/promises';
import { connect, isIPv4, isIPv6 } from 'node:net';
import { randomInt } from 'node:crypto';

/** glibc's MAXNS: only the first three `nameserver` lines count. */
const MAX_SERVERS = 3;
/** glibc's answer when resolv.conf names no server (or is missing): the host itself. */
const DEFAULT_SERVERS = ['127.0.0.1'];

/** The `nameserver` addresses of a resolv.conf, in order, at most three; glibc's 127.0.0.1 when there is none. */
export function parseResolvConf(text: string): string[] {
  const servers: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m?.[1]) continue;
    const addr = m[1];
    const bare = addr.split('%')[0] ?? '';
    if ((isIPv4(addr) || isIPv6(bare)) && servers.length < MAX_SERVERS) servers.push(addr);
  }
  return servers.length > 0 ? servers : [...DEFAULT_SERVERS];
}

/** The servers of a resolv.conf file, read again whenever the file changes (as glibc does). */
export class ResolvConf {
  private cached: { key: string; servers: string[] } | undefined;

  constructor(readonly path: string) {}

  async servers(): Promise<string[]> {
    let key: string;
    try {
      const s = await stat(this.path);
      key = `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch {
      return [...DEFAULT_SERVERS];
    }
    if (this.cached?.key !== key) {
      const text = await readFile(this.path, 'utf8').catch(() => '');
      this.cached = { key, servers: parseResolvConf(text) };
    }
    return this.cached.servers;
  }
}

/** Checks an upstream's raw answer against the query sent (its id); returns the client's answer, or undefined to keep waiting. */
export type Accept = (raw: Buffer, sentId: number) => Buffer | undefined;

/**
 * Sends `query` to `server` port `port` with a fresh random id from a fresh socket (a random
 * source port the kernel picks, connected: only that server's datagrams reach it) and waits for
 * an answer `accept` takes. Undefined on timeout or when the server refuses (ICMP unreachable).
 */
export function forwardUdp(query: Buffer, server: string, port: number, timeoutMs: number, accept: Accept): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv4(server) ? 'udp4' : 'udp6');
    const sentId = randomInt(0, 65536);
    let done = false;
    const finish = (answer: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', () => finish(undefined));
    sock.on('message', (raw) => {
      const answer = accept(raw, sentId);
      if (answer) finish(answer);
    });
    sock.connect(port, server, () => {
      const out = Buffer.from(query);
      out.writeUInt16BE(sentId, 0);
      sock.send(out, (err) => err && finish(undefined));
    });
  });
}

/** The same over TCP (two-byte length framing, RFC 1035 4.2.2), for queries that came over TCP. */
export function forwardTcp(query: Buffer, server: string, port: number, timeoutMs: number, accept: Accept): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sentId = randomInt(0, 65536);
    const sock = connect({ host: server, port });
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (answer: Buffer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', () => finish(undefined));
    sock.on('close', () => finish(undefined));
    sock.on('connect', () => {
      const out = Buffer.alloc(query.length + 2);
      out.writeUInt16BE(query.length, 0);
      query.copy(out, 2);
      out.writeUInt16BE(sentId, 2);
      sock.write(out);
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const answer = accept(buf.subarray(2, 2 + len), sentId);
        buf = buf.subarray(2 + len);
        if (answer) return finish(answer);
      }
    });
  });
}
