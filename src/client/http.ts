// The Engine API's transport: JSON and streamed requests over the daemon's unix socket (wire.ts).
import type { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import { describeSocketError, socketProblem } from './errors.js';
import { ConnectionPool } from './pool.js';
import { wireRequest, wireUpgrade, type WireResponse } from './wire.js';

export type { WireResponse };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Thrown when nothing answers on the socket. */
export class ConnectError extends Error {
  constructor(
    readonly socketPath: string,
    override readonly cause: NodeJS.ErrnoException,
  ) {
    super(describeSocketError(cause, socketPath) ?? `cannot connect to the Cunik daemon at unix://${socketPath}: ${cause.message}`);
    this.name = 'ConnectError';
  }
}

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface RequestOptions {
  query?: Query;
  json?: unknown;
  body?: Readable;
  contentType?: string;
  signal?: AbortSignal;
}

export function buildPath(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(key, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export class HttpClient {
  private readonly pool = new ConnectionPool();
  private unreachable: (() => Promise<void>) | undefined;

  /** `onUnreachable` runs once when nothing answers on the socket (e.g. to start a daemon); the request is then retried. */
  constructor(
    readonly socketPath: string,
    onUnreachable?: () => Promise<void>,
  ) {
    this.unreachable = onUnreachable;
  }

  /** Send a request; resolves with the response once its headers arrive. Error statuses reject as ApiError. */
  async open(method: string, path: string, opts: RequestOptions = {}): Promise<WireResponse> {
    const recover = this.unreachable;
    if (!recover) return this.send(method, path, opts);
    // A streamed body cannot be sent twice: make sure someone answers before sending it.
    if (opts.body) await this.open('GET', '/v1/_ping');
    try {
      return await this.send(method, path, opts);
    } catch (err) {
      if (!(err instanceof ConnectError) || this.unreachable !== recover) throw err;
      this.unreachable = undefined;
      await recover();
      return this.send(method, path, opts);
    }
  }

  /** Ask for an upgraded connection (attach): the raw socket on 101; error statuses reject as ApiError. */
  async upgrade(method: string, path: string, opts: RequestOptions = {}): Promise<Socket> {
    const recover = this.unreachable;
    try {
      return await this.sendUpgrade(method, path, opts);
    } catch (err) {
      if (!recover || !(err instanceof ConnectError) || this.unreachable !== recover) throw err;
      this.unreachable = undefined;
      await recover();
      return this.sendUpgrade(method, path, opts);
    }
  }

  private async sendUpgrade(method: string, path: string, opts: RequestOptions): Promise<Socket> {
    let res;
    try {
      res = await wireUpgrade({ socketPath: this.socketPath, method, path: buildPath(path, opts.query), headers: {}, signal: opts.signal });
    } catch (err) {
      throw socketFailure(err, this.socketPath);
    }
    if ('socket' in res) return res.socket;
    throw await apiError(res);
  }

  private async send(method: string, path: string, opts: RequestOptions): Promise<WireResponse> {
    const headers: Record<string, string> = {};
    let body: string | Readable | undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    } else if (opts.body) {
      body = opts.body;
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
    } else if (method === 'POST' || method === 'PUT') {
      body = '';
    }
    let res: WireResponse;
    try {
      res = await wireRequest({ socketPath: this.socketPath, method, path: buildPath(path, opts.query), headers, body, signal: opts.signal }, this.pool);
    } catch (err) {
      throw socketFailure(err, this.socketPath);
    }
    if (res.statusCode >= 400) throw await apiError(res);
    return res;
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.open(method, path, opts);
    const text = (await readAll(res)).toString('utf8');
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Close the idle kept-alive connections (they never keep the process alive, but a long-lived caller may want them gone). */
  close(): void {
    this.pool.close();
  }
}

/** A socket error as the caller should see it: ConnectError when no daemon listens (a default socket may start one), else a sentence. */
function socketFailure(err: unknown, socketPath: string): unknown {
  if (socketProblem(err) === 'no-daemon') return new ConnectError(socketPath, err as NodeJS.ErrnoException);
  const message = describeSocketError(err, socketPath);
  return message === undefined ? err : new Error(message);
}

/** The ApiError an error response carries (its JSON body, or its text). */
async function apiError(res: WireResponse): Promise<ApiError> {
  const text = (await readAll(res)).toString('utf8');
  let parsed: { code?: string; message?: string; field?: string } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = { message: text };
  }
  return new ApiError(res.statusCode, parsed.code ?? 'UNKNOWN', parsed.message ?? `HTTP ${res.statusCode}`, parsed.field);
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
