// A minimal HTTP/1.1 client over a unix socket, for the CLI's hot path. Node's `http` costs
// ~12 ms of one-time initialisation in every CLI process on a slow host (measured: first request
// 19-26 ms against 8 ms over `net`), which is a third of `cunik run`'s whole overhead budget.
// It speaks just what cunikd answers: request bodies chunked, responses with Content-Length,
// chunked, or read to the end. Connections are kept alive for a client's next request when it
// gives a pool (pool.ts): a new connection costs the daemon more than a small request does.
import { connect, type Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import type { ConnectionPool } from './pool.js';

export interface WireResponse extends PassThrough {
  statusCode: number;
  headers: Record<string, string>;
  /** Trailer fields after a chunked body (lower-case names); set before the body ends. */
  trailers: Record<string, string>;
  /** The body was read to its end (not cut off by a closed connection); set before it ends. */
  complete: boolean;
}

export interface WireRequest {
  socketPath: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Readable | undefined;
  signal?: AbortSignal | undefined;
}

const CRLF = '\r\n';

interface Connection {
  socket: Socket;
  /** Whether the request's promise has been settled (a response, or a failure). */
  settled: boolean;
  /** Destroys the socket and rejects the request, once. */
  fail: (err: Error) => void;
}

/** The daemon hung up before its answer was complete: a reset, as far as the caller can tell. */
const closedEarly = (): Error => Object.assign(new Error('connection closed before a response'), { code: 'ECONNRESET' });

/** Connects to the daemon (or takes `reused`); a socket error or the request's abort signal fails the request. */
function openConnection(req: WireRequest, reject: (err: Error) => void, reused?: Socket): Connection {
  const socket = reused ?? connect(req.socketPath);
  const conn: Connection = {
    socket,
    settled: false,
    fail: (err) => {
      socket.destroy();
      if (!conn.settled) {
        conn.settled = true;
        reject(err);
      }
    },
  };
  socket.once('error', conn.fail);
  req.signal?.addEventListener('abort', () => conn.fail(new Error('request aborted')), { once: true });
  return conn;
}

const requestHead = (req: WireRequest, headers: Record<string, string>): string =>
  `${req.method} ${req.path} HTTP/1.1${CRLF}${Object.entries(headers).map(([k, v]) => `${k}: ${v}${CRLF}`).join('')}${CRLF}`;

/** A request that failed on a kept-alive connection before any answer, safe to send again. */
class StaleConnection extends Error {}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/**
 * Send a request. With a pool, an idle connection is reused and the connection goes back to the
 * pool once its response has been read to the end (streamed bodies are not kept: they are rare).
 */
export async function wireRequest(req: WireRequest, pool?: ConnectionPool): Promise<WireResponse> {
  const keep = pool !== undefined && typeof req.body !== 'object';
  const reused = keep ? pool.take() : undefined;
  try {
    return await exchange(req, keep ? pool : undefined, reused);
  } catch (err) {
    // The daemon closed an idle connection as it was reused (e.g. it is stopping): an idempotent
    // request is sent again on a new one, as HTTP clients do; any other fails.
    if (!(err instanceof StaleConnection)) throw err;
    if (!IDEMPOTENT.has(req.method)) throw closedEarly();
    return exchange(req, undefined, undefined);
  }
}

function exchange(req: WireRequest, pool: ConnectionPool | undefined, reused: Socket | undefined): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const conn = openConnection(req, reject, reused);
    const { socket, fail } = conn;
    let answered = false;
    let released = false;

    const send = (): void => {
      const headers: Record<string, string> = { host: 'cunikd', connection: pool ? 'keep-alive' : 'close', ...req.headers };
      if (typeof req.body === 'string') headers['content-length'] = String(Buffer.byteLength(req.body));
      else if (req.body) headers['transfer-encoding'] = 'chunked';
      const head = requestHead(req, headers);
      if (typeof req.body === 'string') socket.write(head + req.body);
      else if (req.body) {
        socket.write(head);
        sendChunked(req.body, socket).catch(fail);
      } else socket.write(head);
    };
    if (reused) send();
    else socket.once('connect', send);

    const onData = (chunk: Buffer): void => {
      answered = true;
      parser.feed(chunk);
    };
    const onEnd = (): void => parser.end();
    const onClose = (): void => {
      if (conn.settled) return parser.end();
      fail(reused && !answered ? new StaleConnection() : closedEarly());
    };
    const parser = new ResponseParser(
      (res) => {
        conn.settled = true;
        // A consumer that stops reading (a cancelled `logs -f`) hangs up.
        res.once('close', () => released || socket.destroy());
        resolve(res);
      },
      fail,
      (reusable) => {
        if (!pool || !reusable || socket.destroyed) return;
        released = true;
        socket.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onError);
        pool.give(socket);
      },
    );
    const onError = (err: Error): void => fail(reused && !answered ? new StaleConnection() : err);
    socket.off('error', fail).once('error', onError);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
  });
}

async function sendChunked(body: Readable, socket: Socket): Promise<void> {
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    if (buf.length === 0) continue;
    socket.write(`${buf.length.toString(16)}${CRLF}`);
    socket.write(buf);
    if (!socket.write(CRLF)) await new Promise((r) => socket.once('drain', r));
  }
  socket.write(`0${CRLF}${CRLF}`);
}

/** The connection ended in the middle of a response's body (the daemon stopped or died): a reset. */
export class TruncatedResponse extends Error {
  readonly code = 'ECONNRESET';
  constructor() {
    super('the daemon closed the connection before the end of its response');
    this.name = 'TruncatedResponse';
  }
}

/** Parses one response: status line and headers, then the body by length, chunks, or to the end. */
class ResponseParser {
  private buf: Buffer = Buffer.alloc(0);
  private res: WireResponse | undefined;
  private mode: 'length' | 'chunked' | 'close' = 'close';
  private remaining = 0;
  private chunkState: 'size' | 'data' | 'crlf' | 'trailer' | 'done' = 'size';

  constructor(
    private readonly onHead: (res: WireResponse) => void,
    private readonly onError: (err: Error) => void,
    /** The body was read to its end (by length or chunks); `reusable`: the connection may carry another request. */
    private readonly onComplete?: (reusable: boolean) => void,
  ) {}

  private complete(res: WireResponse): void {
    res.complete = true;
    res.end();
    this.onComplete?.(this.buf.length === 0 && res.headers['connection']?.toLowerCase() !== 'close');
  }

  feed(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.res) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buf.subarray(0, end).toString('latin1').split(CRLF);
      this.buf = this.buf.subarray(end + 4);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
      if (!status) return this.onError(new Error(`bad response from the daemon: ${lines[0] ?? ''}`));
      const res = new PassThrough() as WireResponse;
      res.statusCode = Number(status[1]);
      res.headers = {};
      res.trailers = {};
      res.complete = false;
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) res.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      if (res.statusCode === 204 || res.statusCode === 304) this.mode = 'length'; // never a body (RFC 9112, 6.3)
      else if (res.headers['transfer-encoding']?.includes('chunked')) this.mode = 'chunked';
      else if (res.headers['content-length'] !== undefined) {
        this.mode = 'length';
        this.remaining = Number(res.headers['content-length']);
      }
      this.res = res;
      this.onHead(res);
      if (this.mode === 'length' && this.remaining === 0) return this.complete(res);
    }
    this.body();
  }

  /** The connection ended: a body with a length or chunks that is not complete is an error, never a short answer. */
  end(): void {
    if (!this.res || this.res.writableEnded) return;
    if (this.mode === 'close') this.res.end();
    else this.res.destroy(new TruncatedResponse());
  }

  private body(): void {
    const res = this.res!;
    if (res.writableEnded) return;
    if (this.mode === 'close') {
      if (this.buf.length) res.write(this.buf);
      this.buf = Buffer.alloc(0);
    } else if (this.mode === 'length') {
      const take = this.buf.subarray(0, this.remaining);
      this.remaining -= take.length;
      this.buf = this.buf.subarray(take.length);
      if (take.length) res.write(take);
      if (this.remaining === 0) this.complete(res);
    } else {
      this.chunks(res);
    }
  }

  private chunks(res: WireResponse): void {
    for (;;) {
      if (this.chunkState === 'size') {
        const eol = this.buf.indexOf(CRLF);
        if (eol < 0) return;
        this.remaining = parseInt(this.buf.subarray(0, eol).toString('latin1'), 16);
        this.buf = this.buf.subarray(eol + 2);
        if (this.remaining === 0) {
          this.chunkState = 'trailer';
          continue;
        }
        this.chunkState = 'data';
      } else if (this.chunkState === 'data') {
        if (this.buf.length === 0) return;
        const take = this.buf.subarray(0, this.remaining);
        this.remaining -= take.length;
        this.buf = this.buf.subarray(take.length);
        res.write(take);
        if (this.remaining === 0) this.chunkState = 'crlf';
      } else if (this.chunkState === 'crlf') {
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.chunkState = 'size';
      } else if (this.chunkState === 'trailer') {
        // Trailer fields (an export cut short names its reason in one), then an empty line.
        if (this.buf.length >= 2 && this.buf[0] === 0x0d && this.buf[1] === 0x0a) {
          this.buf = this.buf.subarray(2);
        } else {
          const end = this.buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          for (const line of this.buf.subarray(0, end).toString('utf8').split(CRLF)) {
            const colon = line.indexOf(':');
            if (colon > 0) res.trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
          }
          this.buf = this.buf.subarray(end + 4);
        }
        this.chunkState = 'done';
        return this.complete(res);
      } else return;
    }
  }
}

/** An upgraded connection: the raw socket, with whatever arrived after the 101 response still to read. */
export interface UpgradedConnection {
  socket: Socket;
}

/**
 * Send a request that asks to switch protocols (`Connection: Upgrade`, `Upgrade: tcp`: the
 * attach route). Resolves with the raw socket on 101, else with the response as wireRequest does.
 */
export function wireUpgrade(req: WireRequest): Promise<UpgradedConnection | WireResponse> {
  return new Promise((resolve, reject) => {
    const conn = openConnection(req, reject);
    const { socket, fail } = conn;
    let head: Buffer = Buffer.alloc(0);
    socket.once('connect', () => {
      const headers: Record<string, string> = { host: 'cunikd', ...req.headers, connection: 'Upgrade', upgrade: 'tcp' };
      socket.write(requestHead(req, headers));
    });
    const onClose = (): void => fail(closedEarly());
    // The head is read in paused mode ('readable'), so that once it is done nothing is emitted
    // until the caller listens: the bytes after it wait in the socket.
    const onReadable = (): void => {
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      const rest = head.subarray(end + 4);
      if (rest.length) socket.unshift(rest);
      if (/^HTTP\/1\.[01] 101 /.test(head.subarray(0, end).toString('latin1'))) {
        conn.settled = true;
        socket.off('error', fail);
        resolve({ socket });
        return;
      }
      // An error (or any other) response: parse it as usual.
      const parser = new ResponseParser((res) => {
        conn.settled = true;
        res.once('close', () => socket.destroy());
        resolve(res);
      }, fail);
      parser.feed(head.subarray(0, end + 4));
      socket.on('data', (d: Buffer) => parser.feed(d));
      socket.once('end', () => parser.end());
      socket.once('close', () => parser.end());
    };
    socket.on('readable', onReadable);
    socket.once('close', onClose);
  });
}
