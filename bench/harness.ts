// Shared benchmark pieces: a private daemon with the hello image, timing helpers, bare QEMU runs.
import { killOnExitSignal } from '../test/helpers/cleanup.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, symlinkSync, watch } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { startDaemon, helloKernel, type TestDaemon } from '../test/helpers/daemon.js';
import { passtArgv } from '../src/network/passt.js';
import { USER_NET } from '../src/network/user.js';

export { abba, header, median, round } from './method.js';
export const now = (): number => performance.now();

export async function daemonWithHello(): Promise<TestDaemon> {
  const d = await startDaemon();
  await d.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
  return d;
}

/** Resolves when `file` holds a complete first line (event-driven, as the daemon's log follower). */
export function firstLine(file: string): { ready: Promise<void>; cancel: () => void } {
  let done = false;
  const watcher = watch(file);
  const ready = new Promise<void>((resolve) => {
    const check = async (): Promise<void> => {
      if (done) return;
      const fh = await open(file, 'r');
      const buf = Buffer.alloc(4096);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      await fh.close();
      if (!done && buf.subarray(0, bytesRead).includes(10)) {
        done = true;
        watcher.close();
        resolve();
      }
    };
    watcher.on('change', () => void check());
    void check();
  });
  return { ready, cancel: () => ((done = true), watcher.close()) };
}

/**
 * A bare QEMU run with exactly the daemon's argv for an instance, its instance directory swapped
 * for a private one (same files: kernel, empty console log).
 */
export async function bareRun(argv: string[], instanceDir: string): Promise<{ firstLineMs: number; exitMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'cunik-bare-'));
  try {
    await copyFile(join(instanceDir, 'kernel'), join(dir, 'kernel'));
    await writeFile(join(dir, 'console.log'), '');
    const args = argv.map((a) => a.split(instanceDir).join(dir));
    const line = firstLine(join(dir, 'console.log'));
    const t0 = now();
    const cwd = bareBootDir(args, dir, join(dir, 'kernel'));
    const child = spawn(args[0]!, args.slice(1), { detached: true, stdio: 'ignore', ...(cwd && { cwd }) });
    killOnExitSignal(child, true); // a killed bench leaves no VM behind
    const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(now())));
    await line.ready;
    const firstLineMs = now() - t0;
    const exitMs = (await exited) - t0;
    return { firstLineMs, exitMs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cunik-bench-'));
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * For an argv with the daemon's passt NIC (-netdev stream,...,addr.type=fd,...): start passt as the
 * daemon does (src/network/passt.ts, the user network's addresses) on a unix socket in `dir`, and
 * point the netdev at it. Resolves once passt listens. Nothing to do for an argv without one.
 * `wrap` turns passt's argv into the one to spawn (density: into its side's memory cgroup).
 */
export async function bareNetwork(args: string[], dir: string, wrap: (argv: string[]) => string[] = (a) => a): Promise<ChildProcess | undefined> {
  const i = args.findIndex((a) => a.startsWith('stream,') && a.includes('addr.type=fd'));
  if (i < 0) return undefined;
  // passt drops root for nobody before it makes its socket: a folder of its own that it may write to.
  const sockDir = join(dir, 'passt');
  chmodSync(dir, 0o711);
  mkdirSync(sockDir);
  chmodSync(sockDir, 0o777);
  const socket = join(sockDir, 'passt.sock');
  args[i] = args[i]!.replace(/addr\.type=fd,addr\.str=\d+/, `addr.type=unix,addr.path=${socket}`);
  const argv = passtArgv({ type: 'passt', guest: { ip: USER_NET.ip, prefix: USER_NET.prefix, gateway: USER_NET.gateway, dns: USER_NET.dns[0] }, forwards: [] } as Parameters<typeof passtArgv>[0]);
  const fd = argv.indexOf('--fd');
  argv.splice(fd, 2, '--socket', socket);
  const run = wrap(argv);
  const passt = spawn(run[0]!, run.slice(1), { stdio: 'ignore', detached: true });
  killOnExitSignal(passt, true);
  for (let n = 0; !existsSync(socket); n++) {
    if (passt.exitCode !== null || n > 500) throw new Error(`bench: passt did not start (${argv.join(' ')})`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return passt;
}

/**
 * The daemon runs QEMU in <instance>/boot, where the kernel is linked under the name the guest
 * sees (its multiboot argv[0]) and `-kernel` names it relatively: the same for a bare run in `dir`
 * with `kernel` as the file. Returns the directory to spawn in (undefined: -kernel is absolute).
 */
export function bareBootDir(args: string[], dir: string, kernel: string): string | undefined {
  const name = args[args.indexOf('-kernel') + 1];
  if (name === undefined || name.startsWith('/')) return undefined;
  const boot = join(dir, 'boot');
  mkdirSync(boot, { recursive: true });
  symlinkSync(kernel, join(boot, name));
  return boot;
}
