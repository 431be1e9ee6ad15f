// cunik attach: connect the terminal to a running instance's serial console. On a TTY stdin is in
// raw mode (Ctrl-C goes to the guest); Ctrl-P Ctrl-Q (--detach-keys) detaches and leaves the
// instance running. Exits with the instance's exit code when it exits, 0 after a detach.
import type { Command } from 'commander';
import { DEFAULT_DETACH_KEYS, DetachScanner, parseDetachKeys } from '../../api/detach-keys.js';
import type { CunikClient } from '../../client/index.js';
import { describeSocketError } from '../../client/errors.js';
import { action, clientFor, errorMessage, fail } from '../util.js';

export interface ConsoleSessionOptions {
  /** Pass stdin to the guest (else only the output is shown). */
  stdin: boolean;
  /** Put a TTY stdin in raw mode (keys go to the guest as typed). */
  raw: boolean;
  detachKeys: string;
  /** Start the instance once attached (run -i/-t): nothing it prints is missed. */
  start?: boolean;
  /** What SIGINT/SIGTERM to this process do (not in raw mode, where Ctrl-C is a key). */
  onSignal?: (signal: NodeJS.Signals) => void;
}

/** Turns "\n" into "\r\n" for a terminal in raw mode (no output post-processing there); keeps "\r\n" as it is. */
export function crlf(): (chunk: Buffer) => Buffer {
  let last = 0;
  return (chunk) => {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === 0x0a && last !== 0x0d) out.push(0x0d);
      out.push(b);
      last = b;
    }
    return Buffer.from(out);
  };
}

/**
 * Attach this process's stdio to the instance's console. Resolves with the instance's exit code
 * when it exits, with 0 after a detach. Rejects (exit 125) if the daemon cannot be reached, the
 * instance cannot be attached, or the connection breaks.
 */
export async function consoleSession(client: CunikClient, id: string, opts: ConsoleSessionOptions): Promise<number> {
  let keys: Buffer;
  try {
    keys = parseDetachKeys(opts.detachKeys);
  } catch (err) {
    return fail(errorMessage(err));
  }
  const conn = await client.attach(id, { stdin: opts.stdin, detachKeys: opts.detachKeys });
  const aborter = new AbortController();
  let waiting: { exitCode: Promise<number> };
  try {
    waiting = await client.waitInstance(id, opts.start ? 'next-exit' : 'not-running', aborter.signal);
    if (opts.start) await client.startInstance(id);
  } catch (err) {
    conn.destroy();
    throw err;
  }

  const stdin = process.stdin;
  const raw = opts.stdin && opts.raw && stdin.isTTY === true;
  const toTerminal = raw && process.stdout.isTTY ? crlf() : (b: Buffer) => b;
  let detached = false;

  // Nobody reads the output any more (`| head`): leave as a detach would.
  const onStdoutError = (): void => {
    detached = true;
    conn.destroy();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const onSignal = (sig: NodeJS.Signals): void => opts.onSignal?.(sig);
  const cleanup = (): void => {
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    stdin.removeAllListeners('data');
    stdin.destroy();
    for (const s of signals) process.off(s, onSignal);
    process.stdout.off('error', onStdoutError);
  };

  try {
    if (opts.onSignal) for (const s of signals) process.on(s, onSignal);
    process.stdout.once('error', onStdoutError);
    const closed = new Promise<void>((resolve, reject) => {
      conn.on('data', (chunk: Buffer) => process.stdout.write(toTerminal(chunk)));
      // The daemon went away mid-session: say so as the client says it (client/errors.ts).
      conn.once('error', (err) => reject(new Error(describeSocketError(err, client.socketPath) ?? err.message)));
      conn.once('close', () => resolve());
    });
    conn.resume();
    if (opts.stdin) {
      if (raw) stdin.setRawMode(true);
      const scanner = new DetachScanner(keys);
      stdin.on('data', (chunk: Buffer) => {
        if (detached) return;
        const { forward, detached: done } = scanner.push(chunk);
        if (forward.length) conn.write(forward);
        if (done) {
          detached = true;
          conn.destroy();
        }
      });
      // End of input (a pipe): the guest's output goes on until the instance exits.
      stdin.once('end', () => {
        if (!detached && !conn.destroyed) conn.end();
      });
      stdin.resume();
    }
    await closed;
    if (detached) {
      aborter.abort();
      waiting.exitCode.catch(() => undefined);
      return 0;
    }
    return await waiting.exitCode;
  } finally {
    cleanup();
  }
}

export function register(program: Command): void {
  program
    .command('attach')
    .description("Attach local standard input and output to a running instance's serial console")
    .option('--detach-keys <keys>', 'key sequence that detaches, leaving the instance running', DEFAULT_DETACH_KEYS)
    .option('--no-stdin', 'do not attach standard input')
    .option('--no-sig-proxy', 'do not pass SIGINT/SIGTERM on to the instance (only without a TTY)')
    .argument('<instance>', 'name or id')
    .action(
      action(async (target: string, flags: { detachKeys: string; stdin: boolean; sigProxy: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        const info = await client.inspectInstance(target);
        if (info.state === 'paused') fail(`cannot attach to paused instance ${info.name}: unpause it first`);
        if (info.state !== 'running' && info.state !== 'restarting') fail(`cannot attach to stopped instance ${info.name}: start it first`);
        const code = await consoleSession(client, info.id, {
          stdin: flags.stdin,
          raw: true,
          detachKeys: flags.detachKeys,
          ...(flags.sigProxy && { onSignal: (sig: NodeJS.Signals) => void client.killInstance(info.id, sig).catch(() => undefined) }),
        });
        client.close();
        process.exitCode = code;
      }),
    );
}
