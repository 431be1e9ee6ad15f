// Attach sessions (docs/console.md, "attach"): the daemon is QEMU's one client on an instance's
// console socket, shared by every session of the instance and connected only while one exists.
import { watch, type FSWatcher } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { DetachScanner } from '../api/detach-keys.js';

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  detachKeys: Buffer;
  /**
   * The session's output, instead of the socket's: for a session opened before the instance
   * starts, the log followed from its end, because the guest can print before QEMU accepts the
   * daemon's connection (QEMU creates the socket only as it starts) and the socket has no replay.
   */
  output?: Readable | undefined;
}

/** An attached client further behind than this loses output rather than slowing the guest. */
const CLIENT_BUFFER_LIMIT = 4 * 1024 * 1024;
/** At daemon shutdown, how long an attached client has to close its side after the daemon's. */
const CLOSE_GRACE_MS = 500;
/** Input typed before QEMU's socket is connected waits here, up to this much. */
const PENDING_INPUT_LIMIT = 1024 * 1024;

interface Session {
  client: Socket;
  /** Receives the socket's output. */
  stdout: boolean;
  scanner: DetachScanner | undefined;
  /** Output of its own (see AttachOptions.output): the session ends when it does. */
  output: Readable | undefined;
}

/**
 * The daemon's connection to one instance's console socket, shared by its attach sessions. QEMU
 * serves one client at a time and stalls the guest's output while that client does not read, so
 * the relay always reads, and a session too slow to keep up loses output instead.
 */
export class Relay {
  private readonly sessions = new Set<Session>();
  private qemu: Socket | undefined;
  private connecting = false;
  closed = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private dirWatch: FSWatcher | undefined;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = 5;
  private ending: NodeJS.Timeout | undefined;

  constructor(
    private readonly socketPath: string,
    private readonly onClosed: () => void,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  add(client: Socket, opts: AttachOptions): void {
    const output = opts.stdout ? opts.output : undefined;
    const session: Session = { client, stdout: opts.stdout && !output, scanner: opts.stdin ? new DetachScanner(opts.detachKeys) : undefined, output };
    this.sessions.add(session);
    if (output) {
      output.on('error', () => client.destroy());
      output.pipe(client);
      client.once('close', () => output.destroy());
    }
    client.setNoDelay?.(true);
    client.on('data', (chunk: Buffer) => {
      if (!session.scanner) return;
      const { forward, detached } = session.scanner.push(chunk);
      if (forward.length) this.input(forward);
      if (detached) {
        session.scanner = undefined;
        this.remove(session);
        client.end();
      }
    });
    // A half-close ends the input only; output goes on until the instance exits.
    client.on('end', () => (session.scanner = undefined));
    client.on('close', () => this.remove(session));
    client.on('error', () => client.destroy());
    this.connect();
  }

  private remove(session: Session): void {
    if (!this.sessions.delete(session)) return;
    if (this.sessions.size === 0) this.close();
  }

  private input(data: Buffer): void {
    if (this.qemu) {
      if (!this.qemu.write(data)) {
        // QEMU takes input as fast as the guest reads it: hold the senders back meanwhile.
        for (const s of this.sessions) s.client.pause();
        this.qemu.once('drain', () => {
          for (const s of this.sessions) s.client.resume();
        });
      }
    } else if (this.pendingBytes + data.length <= PENDING_INPUT_LIMIT) {
      this.pending.push(data);
      this.pendingBytes += data.length;
    }
  }

  private output(data: Buffer): void {
    for (const s of this.sessions) if (s.stdout && s.client.writableLength < CLIENT_BUFFER_LIMIT) s.client.write(data);
  }

  private connect(): void {
    if (this.closed || this.qemu || this.connecting) return;
    this.connecting = true;
    const s = connect(this.socketPath);
    s.setNoDelay?.(true);
    s.once('connect', () => {
      this.connecting = false;
      if (this.closed) return void s.destroy();
      this.qemu = s;
      this.stopWaiting();
      const pending = this.pending;
      this.pending = [];
      this.pendingBytes = 0;
      for (const p of pending) this.input(p);
    });
    s.on('data', (d: Buffer) => this.output(d));
    s.once('error', () => {
      if (this.qemu === s) return;
      // Not there yet (created, or starting): wait for QEMU to create the socket.
      this.connecting = false;
      this.waitForSocket();
    });
    s.once('close', () => {
      if (this.qemu !== s) return;
      this.qemu = undefined;
      this.end(); // QEMU went away: the instance is exiting
    });
  }

  /** Connect as soon as QEMU creates its socket: an inotify watch on the directory, and a slow poll as a safety net. */
  private waitForSocket(): void {
    if (this.closed) return;
    if (!this.dirWatch) {
      try {
        const name = basename(this.socketPath);
        this.dirWatch = watch(dirname(this.socketPath), (_event, file) => {
          if (file === name) this.connect();
        });
        this.dirWatch.on('error', () => undefined);
      } catch {
        // fall back on the poll
      }
    }
    if (!this.retry) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.retryMs = Math.min(this.retryMs * 2, 200);
        this.connect();
      }, this.retryMs);
    }
  }

  private stopWaiting(): void {
    this.dirWatch?.close();
    this.dirWatch = undefined;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  /** The instance exited: QEMU's socket closes by itself; end the sessions if it lingers or was never open. */
  endSoon(): void {
    if (!this.qemu) return this.end();
    this.ending ??= setTimeout(() => this.end(), 1000);
  }

  /**
   * End every session: the instance exited or is gone, or (`now`) the daemon stops. A session with
   * output of its own otherwise ends when that does (after what the log still holds); when the
   * daemon stops, that output is cut short, and a client that does not close its side in time is
   * cut off, so that no connection holds up the shutdown.
   */
  end(now = false): void {
    for (const s of this.sessions) {
      if (s.output && !now) continue;
      if (s.output) {
        s.output.unpipe(s.client);
        s.output.destroy();
      }
      s.client.end();
      if (now) setTimeout(() => s.client.destroy(), CLOSE_GRACE_MS).unref();
    }
    this.sessions.clear();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopWaiting();
    if (this.ending) clearTimeout(this.ending);
    this.qemu?.destroy();
    this.qemu = undefined;
    this.onClosed();
  }
}
