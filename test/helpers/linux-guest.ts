// What tests of linux-family guests share: why they cannot run on this machine (each reason names
// the package or step that provides it), a free host port to publish a guest's on, and the passt
// processes that carry a published port.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { hostTscKhz } from '../../src/families/host.js';
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

/**
 * The Cunikfile line giving the guest the host's TSC frequency, when the host tells it: under TCG
 * Debian's kernel may hang calibrating the TSC against the PIT otherwise. Empty when unknown.
 */
export function tscLabelLines(): string[] {
  const khz = hostTscKhz();
  return khz !== undefined ? [`labels: { org.cunik.tsc-khz: ${khz} }`] : [];
}

/** A port nobody listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** "Key:\tvalue" lines of /proc/PID/status. */
export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** Live (not zombie) passt processes forwarding this host port: passt carries it in its argv. */
export function passtFor(port: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!pid) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!/passt/.test(argv[0] ?? '') || !argv.includes(`127.0.0.1/${port}:80`)) continue;
      if (procStatus(pid)['State']?.startsWith('Z')) continue;
      found.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
