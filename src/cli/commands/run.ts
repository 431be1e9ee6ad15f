// cunik run: create + start; in the foreground stream the console and exit with the unikernel's code.
import type { Command } from 'commander';
import { DEFAULT_DETACH_KEYS } from '../../api/detach-keys.js';
import type { CunikClient } from '../../client/index.js';
import { createRequest, instanceFlags, type CreateFlags } from '../instance-flags.js';
import { action, clientFor } from '../util.js';
import { consoleSession } from './attach.js';
import { ensureImage } from './pull.js';

/**
 * Signals passed on to the instance while it runs in the foreground (Docker's --sig-proxy): kill
 * with the same signal, so a closed terminal (SIGHUP) or a `kill` of the CLI (SIGTERM) ends the
 * instance too (and --rm removes it) instead of leaving it running. SIGUSR1 is Node's debugger.
 */
export const PROXIED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/**
 * While `run` is in the foreground: Ctrl-C (SIGINT) stops the instance, a second one kills it; with
 * `sigProxy` the other signals are passed on. Returns the function that removes the handlers.
 */
export function foregroundSignals(client: CunikClient, id: string, sigProxy: boolean): () => void {
  let interrupts = 0;
  const onInterrupt = (): void => {
    if (++interrupts === 1) void client.stopInstance(id, 3).catch(() => undefined);
    else void client.killInstance(id, 'SIGKILL').catch(() => undefined);
  };
  const onSignal = (sig: NodeJS.Signals): void => void client.killInstance(id, sig).catch(() => undefined);
  const proxied = sigProxy ? PROXIED_SIGNALS : [];
  process.on('SIGINT', onInterrupt);
  for (const s of proxied) process.on(s, onSignal);
  // A closed terminal: output has nowhere to go, but the exit still has to be waited for.
  const onStdoutError = (): void => undefined;
  process.stdout.on('error', onStdoutError);
  return () => {
    process.off('SIGINT', onInterrupt);
    for (const s of proxied) process.off(s, onSignal);
    process.stdout.off('error', onStdoutError);
  };
}

/** Follow the console to stdout while waiting for the exit code. */
/** `until` 'removed' (run --rm): the exit code is returned once the instance is removed too, as Docker's CLI waits. */
export async function attachAndWait(client: CunikClient, id: string, start: boolean, until: 'next-exit' | 'removed' = 'next-exit'): Promise<number> {
  // Both are registered before the start: the console is kept in a file, so nothing is missed.
  const [waiting, logs] = await Promise.all([client.waitInstance(id, until), client.logs(id, true)]);
  const copied = new Promise<void>((resolve, reject) => {
    logs.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    logs.on('end', resolve);
    logs.on('error', reject);
  });
  // If the daemon goes away, the wait says so first (one line, 125); the log's end adds nothing.
  copied.catch(() => undefined);
  if (start) await client.startInstance(id);
  const exitCode = await waiting.exitCode;
  await copied;
  return exitCode;
}

export function register(program: Command): void {
  instanceFlags(program.command('run').description('Create and start an instance of an image'))
    .option('-d, --detach', 'run in the background and print the instance id')
    .option('--rm', 'remove the instance when it exits')
    .option('-i, --interactive', "attach standard input to the instance's serial console")
    .option('-t, --tty', 'terminal mode: raw keys to the guest, --detach-keys to detach (with -i, on a TTY)')
    .option('--detach-keys <keys>', 'key sequence that detaches from the console (-i/-t), leaving the instance running', DEFAULT_DETACH_KEYS)
    .option('--no-sig-proxy', 'do not pass the signals the CLI receives (TERM, HUP, QUIT, USR2) on to the instance')
    .action(
      action(async (image: string, args: string[], flags: CreateFlags & { detach?: boolean; rm?: boolean; interactive?: boolean; tty?: boolean; detachKeys: string; sigProxy: boolean }, cmd: Command) => {
        const client = await clientFor(cmd);
        await ensureImage(client, image, flags.pull ?? 'missing');
        const request = { ...createRequest(image, args, flags), ...(flags.rm && { autoRemove: true }), ...(flags.tty && { tty: true }) };
        if (flags.detach) {
          // One request creates and starts it (a start that fails leaves it created, as docker run -d does).
          const { id } = await client.createInstance({ ...request, start: true });
          process.stdout.write(`${id}\n`);
          client.close();
          return;
        }
        // In the foreground the console and the exit are subscribed to between the create and the start.
        const { id } = await client.createInstance(request);
        // Without a raw terminal, Ctrl-C stops the instance (twice: kills it); in raw mode it is a key.
        const release = foregroundSignals(client, id, flags.sigProxy);
        try {
          const code =
            flags.interactive || flags.tty
              ? await consoleSession(client, id, { stdin: flags.interactive ?? false, raw: flags.tty ?? false, detachKeys: flags.detachKeys, start: true })
              : await attachAndWait(client, id, true, flags.rm ? 'removed' : 'next-exit');
          client.close();
          process.exitCode = code;
        } finally {
          release();
        }
      }),
    );
}

