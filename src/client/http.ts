// A small HTTP client for the Engine API over a unix socket, on Node's own `http`
// (cheap to load: the CLI's start-up time is part of every command).
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

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
    super(`cannot connect to the Cunik daemon at unix://${socketPath}: ${cause.code ?? cause.message}. Is cunikd running?`);
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
  private readonly agent = new Agent({ keepAlive: true });

  private unreachable: (() => Promise<void>) | undefined;

  /** `onUnreachable` runs once when nothing answers on the socket (e.g. to start a daemon); the request is then retried. */
  constructor(
    readonly socketPath: string,
    onUnreachable?: () => Promise<void>,
  ) {
    this.unreachable = onUnreachable;
  }

  /** Send a request; resolves with the response once its headers arrive. Error statuses reject as ApiError. */
  async open(method: string, path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
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

  private async send(method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
    const headers: Record<string, string> = {};
    let payload: string | undefined;
    if (opts.json !== undefined) {
      payload = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    } else if (opts.body) {
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
    } else if (method === 'POST' || method === 'PUT') {
      headers['content-length'] = '0';
    }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        { socketPath: this.socketPath, agent: this.agent, method, path: buildPath(path, opts.query), headers, ...(opts.signal && { signal: opts.signal }) },
        resolve,
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new ConnectError(this.socketPath, err) : err);
      });
      if (payload !== undefined) req.end(payload);
      else if (opts.body) opts.body.pipe(req);
      else req.end();
    });
    if (res.statusCode !== undefined && res.statusCode >= 400) {
      const text = (await readAll(res)).toString('utf8');
      let body: { code?: string; message?: string; field?: string } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        body = { message: text };
      }
      throw new ApiError(res.statusCode, body.code ?? 'UNKNOWN', body.message ?? `HTTP ${res.statusCode}`, body.field);
    }
    return res;
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.open(method, path, opts);
    const text = (await readAll(res)).toString('utf8');
    return (text ? JSON.parse(text) : undefined) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
