// A small QMP client over a unix socket: newline-delimited JSON. On connect QEMU sends a greeting
// ({"QMP": {...}}); the client answers with qmp_capabilities, after which commands may be executed
// ({"execute", "arguments", "id"} → {"return"} or {"error": {"class", "desc"}}, echoing "id") and
// asynchronous events ({"event", "data", "timestamp"}) may arrive at any time.
// Reference: QEMU docs/interop/qmp-spec.txt.
//
// QEMU serves one QMP client per socket at a time; a second client's connection is accepted by the
// kernel but gets no greeting until the first one leaves. Share one QmpClient per VM.

import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { CunikError } from '../../errors.js';
import { appeared } from './appear.js';

export interface QmpGreeting {
  QMP: { version?: unknown; capabilities?: unknown[] };
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** A command QEMU answered with {"error": ...}; message is QEMU's desc. */
export class QmpError extends CunikError {
  /** QMP error class, e.g. "GenericError", "CommandNotFound". */
  readonly qmpClass: string;
  constructor(qmpClass: string, desc: string) {
    super('INTERNAL', desc);
    this.name = 'QmpError';
    this.qmpClass = qmpClass;
  }
}

export interface QmpConnectOptions {
  /** Keep retrying (ENOENT, ECONNREFUSED) and waiting for the greeting until this much time has passed. Default 5000. */
  timeoutMs?: number;
  /** Delay between connection attempts. Default 5 ms. */
  retryIntervalMs?: number;
  /** Give up early (e.g. when the VM process exits). */
  signal?: AbortSignal;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

const closedError = (): CunikError => new CunikError('INTERNAL', 'QMP connection closed');

/**
 * Events: 'event' (QmpEvent) for every asynchronous QMP event; 'close' () once the connection is gone
 * (QEMU exited, or close() was called).
 */
export class QmpClient extends EventEmitter {
  readonly greeting: QmpGreeting;
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private readonly reader: LineReader;

  private constructor(socket: Socket, greeting: QmpGreeting, rest: LineReader) {
    super();
    this.socket = socket;
    this.greeting = greeting;
    this.reader = rest;
    rest.paused = true;
    rest.onLine = (line) => this.onLine(line);
    socket.on('data', (chunk: Buffer) => rest.push(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', () => {
      /* 'close' follows */
    });
    // Lines that came with the capabilities answer: deliver them once the caller can listen.
    setImmediate(() => {
      rest.paused = false;
      rest.flush();
    });
  }

  /** Connect (retrying until the socket appears), read the greeting, negotiate capabilities. */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const retryMs = opts.retryIntervalMs ?? 5;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      opts.signal?.throwIfAborted();
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const why = lastError instanceof Error ? `: ${lastError.message}` : lastError === 'ENOENT' ? `: ${path} does not exist` : '';
        throw new CunikError('INTERNAL', `QMP connect to ${path} timed out after ${timeoutMs} ms${why}`);
      }
      // While QEMU starts, the socket is not there yet: a stat is far cheaper than a failed
      // connection (a socket object and an error with its stack trace, each time).
      if (!existsSync(path)) lastError = 'ENOENT';
      else {
        try {
          return await QmpClient.attempt(path, remaining, opts.signal);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err;
          lastError = err;
        }
      }
      const wait = Math.max(0, deadline - Date.now());
      // Not there yet: woken when QEMU creates it (the check every 100 ms is only a safety net).
      if (lastError === 'ENOENT') await appeared(path, Math.min(100, wait), opts.signal);
      else await sleep(Math.min(retryMs, wait), opts.signal);
    }
  }

  private static attempt(path: string, timeoutMs: number, signal?: AbortSignal): Promise<QmpClient> {
    return new Promise<QmpClient>((resolve, reject) => {
      const socket = createConnection({ path });
      const reader = new LineReader();
      let stage: 'greeting' | 'capabilities' = 'greeting';
      let greeting: QmpGreeting | undefined;
      let settled = false;
      const finish = (err: Error | undefined, client?: QmpClient): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('data', onData);
        socket.off('error', onError);
        socket.off('close', onEarlyClose);
        if (err !== undefined) {
          socket.destroy();
          reject(err);
        } else resolve(client!);
      };
      const onAbort = (): void => finish(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      const onError = (err: Error): void => finish(err);
      const onEarlyClose = (): void => finish(closedError());
      const onData = (chunk: Buffer): void => reader.push(chunk);
      const timer = setTimeout(
        () => finish(new CunikError('INTERNAL', `QMP handshake on ${path} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      reader.onLine = (line) => {
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          finish(new CunikError('INTERNAL', `QMP: malformed message: ${line.slice(0, 200)}`));
          return;
        }
        if (stage === 'greeting') {
          // A client that connects while QEMU is still starting (woken by the socket's creation)
          // can be sent an event, e.g. RESUME, before the greeting: skip it, as below.
          if ('event' in msg) return;
          if (typeof msg['QMP'] !== 'object' || msg['QMP'] === null) {
            finish(new CunikError('INTERNAL', `QMP: expected a greeting, got: ${line.slice(0, 200)}`));
            return;
          }
          greeting = msg as unknown as QmpGreeting;
          stage = 'capabilities';
          socket.write('{"execute":"qmp_capabilities"}\n');
          return;
        }
        if ('return' in msg) {
          reader.onLine = undefined; // stop here; anything after belongs to the client
          finish(undefined, new QmpClient(socket, greeting!, reader));
        } else if ('error' in msg) {
          const e = msg['error'] as { class?: string; desc?: string };
          finish(new QmpError(e.class ?? 'GenericError', e.desc ?? 'qmp_capabilities failed'));
        }
        // events before the capabilities answer are ignored
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onEarlyClose);
    });
  }

  /** Run a command; resolves with its "return" value, rejects with QmpError (QEMU's desc) or when closed. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    const id = this.nextId++;
    const msg: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) msg['arguments'] = args;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(JSON.stringify(msg) + '\n');
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Close the connection; pending commands reject. Idempotent. */
  close(): void {
    this.socket.destroy();
    this.onClose();
  }

  private onLine(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not ours to crash on
    }
    if (typeof msg['event'] === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const id = msg['id'];
    const p = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (p === undefined) return;
    this.pending.delete(id as number);
    if ('error' in msg) {
      const e = msg['error'] as { class?: string; desc?: string };
      p.reject(new QmpError(e.class ?? 'GenericError', e.desc ?? 'QMP command failed'));
    } else p.resolve(msg['return']);
  }

  private onClose(): void {
    if (this.closed) return;
    // Deliver what QEMU said before it went away (e.g. SHUTDOWN) before reporting the close.
    this.reader.paused = false;
    this.reader.flush();
    this.closed = true;
    for (const p of this.pending.values()) p.reject(closedError());
    this.pending.clear();
    this.emit('close');
  }
}

/** Splits a byte stream into lines; buffers until a handler is set. */
class LineReader {
  onLine: ((line: string) => void) | undefined;
  /** Queue lines without delivering them. */
  paused = false;
  private buf = '';
  private readonly queue: string[] = [];

  push(chunk: Buffer): void {
    this.buf += chunk.toString('utf8');
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line !== '') this.queue.push(line);
    }
    this.flush();
  }

  flush(): void {
    while (!this.paused && this.onLine !== undefined && this.queue.length > 0) this.onLine(this.queue.shift()!);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
