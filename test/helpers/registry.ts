// Test peers for the registry client: Debian's docker-registry (Docker Distribution 2.8) on
// 127.0.0.1 with a temp root, and a counting proxy in front of a registry (to see which
// requests a client sends, or to put Docker's token flow in front of it).
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { killOnExitSignal } from './cleanup.js';

export interface Peer {
  host: string;
  stop(): Promise<void>;
}

/** docker-registry serving a temp root; with `htpasswd` (file contents), basic auth is required. */
export async function startDockerRegistry(opts: { htpasswd?: string } = {}): Promise<Peer & { dir: string; pid: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-dr-t-'));
  let auth = '';
  if (opts.htpasswd !== undefined) {
    writeFileSync(join(dir, 'htpasswd'), opts.htpasswd);
    auth = `auth:\n  htpasswd:\n    realm: test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  writeFileSync(join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'root')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: test\n${auth}`);
  const proc = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExitSignal(proc);
  let out = '';
  const host = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer): void => {
      out += c.toString();
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`docker-registry exited (${code}) before listening: ${out}`)));
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    host,
    dir,
    pid: proc.pid!,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An HTTP server on 127.0.0.1:0 for a handler; closes its connections when stopped. */
export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Peer & { server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface ProxyLog {
  method: string;
  path: string;
  status: number;
  /** The request's Range header, when it had one. */
  range?: string;
}

/** How the proxy mangles one answer's body: cut the connection, or stall (send nothing more), after so many bytes. */
export type ProxyShape = { cutAfter: number } | { stallAfter: number };

/**
 * Forwards every request to `target` (host:port), recording method, path, status and Range; `shape`
 * may cut or stall an answer's body part way (a connection lost, a registry gone quiet).
 */
export async function countingProxy(target: string, gate?: (req: IncomingMessage, res: ServerResponse) => boolean, shape?: (req: IncomingMessage) => ProxyShape | undefined): Promise<Peer & { log: ProxyLog[] }> {
  const log: ProxyLog[] = [];
  const [hostname, port] = target.split(':');
  const peer = await serve((req, res) => {
    const range = req.headers.range;
    if (gate && !gate(req, res)) {
      log.push({ method: req.method!, path: req.url!, status: res.statusCode, ...(range !== undefined && { range }) });
      return;
    }
    const headers = { ...req.headers, host: target };
    delete headers.authorization;
    const mangle = shape?.(req);
    const up = httpRequest({ hostname, port: Number(port), method: req.method, path: req.url, headers }, (ur) => {
      log.push({ method: req.method!, path: req.url!, status: ur.statusCode!, ...(range !== undefined && { range }) });
      const h = { ...ur.headers };
      // Upload locations name the upstream: point them back at the proxy.
      if (typeof h.location === 'string') h.location = h.location.replace(`http://${target}`, '');
      res.writeHead(ur.statusCode!, h);
      if (mangle === undefined) {
        ur.pipe(res);
        return;
      }
      const limit = 'cutAfter' in mangle ? mangle.cutAfter : mangle.stallAfter;
      let sent = 0;
      res.once('close', () => ur.destroy());
      ur.on('data', (c: Buffer) => {
        if (sent >= limit) return;
        const part = c.subarray(0, limit - sent);
        sent += part.length;
        res.write(part);
        if (sent < limit) return;
        ur.pause();
        if ('cutAfter' in mangle) res.write(Buffer.alloc(0), () => res.destroy());
      });
      ur.once('end', () => res.end());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return { ...peer, log };
}

/**
 * A test CA made by openssl in `dir` (ca.crt, self-signed) and, signed by it, a server
 * certificate for `san` (server.crt, server.key): what a hub's --tls-cert/--tls-key take.
 */
export async function makeTestCA(dir: string, san = 'IP:127.0.0.1'): Promise<{ ca: string; cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  const o = (...a: string[]) => promisify(execFile)('openssl', a);
  await o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '1', '-subj', '/CN=Cunik test CA');
  await o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${san}\n`);
  await o('x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'server.crt'), '-days', '1', '-extfile', join(dir, 'ext.cnf'));
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

/** A certs.d folder (Docker's layout) in `dir` holding the CA file `ca` for `host` (HOST:PORT). */
export function certsDirFor(dir: string, host: string, ca: string): string {
  mkdirSync(join(dir, host), { recursive: true });
  writeFileSync(join(dir, host, 'ca.crt'), readFileSync(ca));
  return dir;
}

/** A client certificate (client.cert, client.key in `dir`) signed by the test CA made in `caDir`: Docker's certs.d names. */
export async function makeClientCert(caDir: string, dir: string, cn = 'cunik-test-client'): Promise<{ cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  const o = (...a: string[]) => promisify(execFile)('openssl', a);
  await o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'client.key'), '-out', join(dir, 'client.csr'), '-subj', `/CN=${cn}`);
  writeFileSync(join(dir, 'client-ext.cnf'), 'extendedKeyUsage=clientAuth\n');
  await o('x509', '-req', '-in', join(dir, 'client.csr'), '-CA', join(caDir, 'ca.crt'), '-CAkey', join(caDir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'client.cert'), '-days', '1', '-extfile', join(dir, 'client-ext.cnf'));
  return { cert: join(dir, 'client.cert'), key: join(dir, 'client.key') };
}
