// Idle keep-alive connections to the daemon, for one client's next requests. A new unix-socket
// connection costs cunikd about 0.35 ms of CPU on top of a small request's 0.2 ms (accept, epoll
// registration, shutdown, close; measured on the 2-core CI machine), which a client making many
// requests (the lifecycle benchmark, tests, scripts) pays on every one.
import type { Socket } from 'node:net';

/**
 * Far below the daemon's keep-alive timeout (Fastify's 72 s), so the daemon never closes a
 * connection as it is being reused, except when it stops.
 */
const MAX_IDLE_MS = 2000;

interface Idle {
  socket: Socket;
  since: number;
  /** Removes the listeners that drop the connection while it is idle. */
  detach: () => void;
}

export class ConnectionPool {
  private readonly idle: Idle[] = [];

  /** An idle connection still open, or undefined. */
  take(): Socket | undefined {
    for (let entry = this.idle.pop(); entry; entry = this.idle.pop()) {
      entry.detach();
      if (!entry.socket.destroyed && Date.now() - entry.since < MAX_IDLE_MS) return entry.socket.ref();
      entry.socket.destroy();
    }
    return undefined;
  }

  /** Keep a connection whose response was read to the end. Idle connections never keep the process alive. */
  give(socket: Socket): void {
    const drop = (): void => {
      const i = this.idle.indexOf(entry);
      if (i >= 0) this.idle.splice(i, 1);
      socket.destroy();
    };
    // Anything the daemon sends or does on an idle connection means it is done with it.
    socket.once('close', drop).once('error', drop).once('data', drop).once('end', drop);
    const entry: Idle = {
      socket,
      since: Date.now(),
      detach: () => socket.off('close', drop).off('error', drop).off('data', drop).off('end', drop),
    };
    this.idle.push(entry);
    socket.unref();
  }

  close(): void {
    for (const entry of this.idle.splice(0)) {
      entry.detach();
      entry.socket.destroy();
    }
  }
}
