// Default locations, shared by the CLI (to find the daemon) and the daemon (to listen and store).
import { homedir } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const isRoot = (): boolean => process.getuid?.() === 0;

// CUNIK_RUNTIME_DIR and CUNIK_ROOT move everything elsewhere (tests, several daemons on one host).
function runtimeDir(): string {
  const override = process.env['CUNIK_RUNTIME_DIR'];
  if (override) return override;
  if (isRoot()) return '/run/cunik';
  const xdg = process.env['XDG_RUNTIME_DIR'];
  return xdg ? join(xdg, 'cunik') : join(homedir(), '.cunik', 'run');
}

export const defaultSocketPath = (): string => join(runtimeDir(), 'cunik.sock');

export const defaultRoot = (): string =>
  process.env['CUNIK_ROOT'] ??
  (isRoot() ? '/var/lib/cunik' : join(process.env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share'), 'cunik'));

/**
 * Docker's certs.d for registries: DIR/HOST[:PORT]/*.crt are CAs that registry's certificate may
 * chain to (docs/distribution.md). $CUNIK_REGISTRY_CERTS, else /etc/cunik/certs.d as root, else
 * $XDG_CONFIG_HOME/cunik/certs.d (as rootless Docker's ~/.config/docker/certs.d).
 */
export const registryCertsDir = (): string =>
  process.env['CUNIK_REGISTRY_CERTS'] ??
  (isRoot() ? '/etc/cunik/certs.d' : join(process.env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'cunik', 'certs.d'));

/** Where a daemon started by the CLI writes its log. */
export const defaultDaemonLog = (): string => join(runtimeDir(), 'cunikd.log');

/**
 * The installation's root: the nearest folder above this file that holds bin/cunikd.js. Found by
 * walking up, since this code runs both from dist/src/config/ and from the bundled dist/cunik.mjs.
 */
export function installRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'bin', 'cunikd.js'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the Cunik installation above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir + '/';
}

export const VERSION = '0.1.0';

/**
 * Node flags for cunikd. A small young generation: starting many instances makes short-lived
 * garbage, and V8's default semi-spaces (16 MiB) would grow the daemon by tens of MiB that it
 * never gives back, which is more than the instances themselves cost it. Not the smallest (1 MiB):
 * a 1,000-instance list (324 KB of JSON) then overflows it, promotes its garbage and pays for
 * major collections: 14.8 ms of CPU per list against 10.8 with 4 MiB, and the heap grew more
 * (137 against 112 MiB after 40 lists).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=4'];

/**
 * Node flags for cunik-hub (also in bin/cunik-hub.js's first line). --expose-gc: the hub collects
 * the dead chunks of the blobs streaming through it (src/hub/memory.ts), which V8 alone leaves
 * to pile up by tens of MiB. A small young generation: the hub's garbage is those chunks' small
 * wrappers, and 16 MiB semi-spaces only cost resident memory.
 */
export const HUB_NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc'];
