// Reading an instance's console log, which QEMU itself writes. Following is event-driven
// (inotify through fs.watch), so a follower sees a line within a millisecond of QEMU writing it.
import { watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';

export interface FollowOptions {
  /** Keep streaming appended output until `until` resolves. */
  follow: boolean;
  /** Resolves when the instance has exited; the stream drains what is left and ends. */
  until?: Promise<unknown>;
}

export function readConsole(path: string, opts: FollowOptions): Readable {
  const out = new PassThrough();
  let fh: FileHandle | undefined;
  let watcher: FSWatcher | undefined;
  let position = 0;
  let finished = false;
  const buf = Buffer.allocUnsafe(64 * 1024);

  const finish = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    watcher?.close();
    await fh?.close().catch(() => undefined);
    out.end();
  };

  // Reads everything from `position` to the current end. Calls are chained, so wake-ups that
  // arrive while a read is under way queue one more pass instead of racing it.
  let chain: Promise<void> = Promise.resolve();
  let queued = false;
  const readToEnd = async (): Promise<void> => {
    queued = false;
    for (;;) {
      if (!fh || finished) return;
      const { bytesRead } = await fh.read(buf, 0, buf.length, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      if (!out.write(Buffer.from(buf.subarray(0, bytesRead)))) await new Promise((r) => {
          out.once('drain', r);
          out.once('close', r);
        });
    }
  };
  const drain = (): Promise<void> => {
    if (queued) return chain;
    queued = true;
    chain = chain.then(readToEnd);
    return chain;
  };

  out.on('close', () => void finish());

  void (async () => {
    try {
      fh = await open(path, 'r');
      if (opts.follow && opts.until) {
        watcher = watch(path, () => void drain().catch(() => void finish()));
        void opts.until.then(async () => {
          await drain();
          await finish();
        });
      }
      await drain();
      if (!opts.follow || !opts.until) await finish();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') await finish();
      else out.destroy(err as Error);
    }
  })();
  return out;
}
