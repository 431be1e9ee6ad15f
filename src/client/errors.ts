// What went wrong on the daemon's socket, as a sentence: the only place that turns errno codes
// (EACCES, ENOENT, ECONNREFUSED, ECONNRESET, EPIPE...) into words a user reads.

/** The codes that mean nothing (or nothing we may use) listens on the socket. */
const NO_DAEMON = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'ENOTDIR']);
/** The codes that mean the daemon went away in the middle of an exchange. */
const HUNG_UP = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

export type SocketProblem = 'no-daemon' | 'permission' | 'hung-up';

export function socketProblem(err: unknown): SocketProblem | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return undefined;
  if (NO_DAEMON.has(code)) return 'no-daemon';
  if (code === 'EACCES' || code === 'EPERM') return 'permission';
  if (HUNG_UP.has(code)) return 'hung-up';
  return undefined;
}

/** The sentence for a socket error, or undefined when it is not one of those. */
export function describeSocketError(err: unknown, socketPath?: string): string | undefined {
  const where = socketPath !== undefined ? ` at unix://${socketPath}` : '';
  switch (socketProblem(err)) {
    case 'no-daemon':
      return `cannot connect to the Cunik daemon${where}: no daemon is listening there. Is cunikd running?`;
    case 'permission':
      return `permission denied on ${socketPath ?? "the daemon's socket"}: only root and members of the 'cunik' group may use the daemon`;
    case 'hung-up':
      return `the Cunik daemon${where} closed the connection before it was done (did cunikd stop or crash? its log may say why)`;
    default:
      return undefined;
  }
}
