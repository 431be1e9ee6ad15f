// Uploaded bodies (kernel files for import, archives for load) spooled to private temp files
// under <root>/tmp before the image store reads them. Every file is closed and removed on every
// path, success or error; what a killed daemon left is swept when the next one starts, and
// `system df` counts what is there.
import { createReadStream, createWriteStream, mkdirSync, readdirSync, rmSync, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { diskUsage } from '../util/disk-usage.js';

export class UploadSpool {
  constructor(readonly dir: string) {}

  /** At daemon start (nothing is uploading yet): remove every leftover. */
  sweep(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.dir)) rmSync(join(this.dir, name), { recursive: true, force: true });
  }

  /**
   * Spool `body` to a temp file and run `use` on it; `open` gives `use` a read stream of the
   * file that is destroyed afterwards whatever `use` did with it (a load that failed midway left
   * its stream open: the deleted file's space stayed held until the daemon restarted).
   */
  async spooled<T>(body: Readable, use: (file: string, open: () => ReadStream) => Promise<T>): Promise<T> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, `upload-${randomBytes(8).toString('hex')}`);
    const streams: ReadStream[] = [];
    try {
      await pipeline(body, createWriteStream(file, { mode: 0o600 }));
      return await use(file, () => {
        const s = createReadStream(file);
        streams.push(s);
        return s;
      });
    } finally {
      for (const s of streams) s.destroy();
      rmSync(file, { force: true });
    }
  }

  /** Bytes under the spool (for system df). */
  usage(): Promise<number> {
    return diskUsage(this.dir);
  }
}
