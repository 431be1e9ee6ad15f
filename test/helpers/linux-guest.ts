// What tests of linux-family guests share: why they cannot run on this machine (each reason names
// the package or step that provides it), and a free host port to publish a guest's on.
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repo } from './daemon.js';

/** The reasons the linux builder cannot build and boot a guest here; empty when it can. */
export function linuxGuestMissing(): string[] {
  const kernel = existsSync('/boot') && readdirSync('/boot').some((n) => n.startsWith('vmlinuz-'));
  return [
    !kernel && 'no /boot/vmlinuz-* (apt-get install linux-image-amd64)',
    !existsSync('/bin/busybox') && 'no /bin/busybox (apt-get install busybox-static)',
    !existsSync(join(repo, 'build', 'linux', 'init')) && 'no build/linux/init (npm run build)',
  ].filter((why): why is string => why !== false);
}

/** A port nobody listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
