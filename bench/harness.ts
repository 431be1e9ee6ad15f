// Shared benchmark pieces: a private daemon with the hello image, timing helpers, bare QEMU runs.
import { killOnExitSignal } from '../test/helpers/cleanup.js';
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReadStream } from 'node:fs';
import { startDaemon, helloKernel, type TestDaemon } from '../test/helpers/daemon.js';

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
    const child = spawn(args[0]!, args.slice(1), { detached: true, stdio: 'ignore' });
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
