// Finding the daemon: -H / CUNIK_HOST, else the default socket. When the default socket has no
// daemon, start one in the background (and say so), so `cunik run hello` works on a fresh machine.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { socketPathOf } from '../config/host.js';
import { DAEMON_NODE_FLAGS, defaultDaemonLog, defaultSocketPath, installRoot } from '../config/defaults.js';
import { CunikClient } from './index.js';
import { ConnectError } from './http.js';

export function socketFromHost(host: string | undefined): { path: string; explicit: boolean } {
  if (!host) return { path: defaultSocketPath(), explicit: false };
  return { path: socketPathOf(host), explicit: true };
}

function startDaemon(socketPath: string): void {
  const logFile = defaultDaemonLog();
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a', 0o600); // the daemon's log is its own, as its root is
  // bin/cunik set the user's extra CA certificates aside (the CLI needs none); the daemon may.
  const { CUNIK_EXTRA_CA_CERTS: extraCerts, ...env } = process.env;
  if (extraCerts) env['NODE_EXTRA_CA_CERTS'] = extraCerts;
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, join(installRoot(), 'bin', 'cunikd.js'), '--host', socketPath], {
    detached: true,
    stdio: ['ignore', out, out],
    env,
  });
  child.unref();
  process.stderr.write(`cunik: no daemon was running; started cunikd (pid ${child.pid}, log ${logFile})\n`);
}

/**
 * A client for the selected daemon. With the default socket, the first request that finds no
 * daemon starts one and is retried once it answers; no extra round trip when a daemon is up.
 */
export function connectClient(host: string | undefined): CunikClient {
  const { path, explicit } = socketFromHost(host ?? process.env['CUNIK_HOST']);
  if (explicit) return new CunikClient(path);
  const probe = new CunikClient(path);
  return new CunikClient(path, async () => {
    startDaemon(path);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await probe.ping();
        probe.close();
        return;
      } catch (err) {
        if (!(err instanceof ConnectError) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  });
}
