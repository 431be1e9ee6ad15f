// Exactly one daemon per root: a pid lock file created exclusively. A stale lock (its pid gone,
// or reused by something that is not cunikd) is taken over.
import { readFileSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict } from '../errors.js';

function isCunikd(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cunikd');
  } catch {
    return false;
  }
}

export async function acquireRootLock(root: string): Promise<() => Promise<void>> {
  const path = join(root, 'cunikd.pid');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        const owner = await readFile(path, 'utf8').catch(() => '');
        if (owner.trim() === String(process.pid)) await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (pid && pid !== process.pid && isCunikd(pid)) {
        throw conflict(`another cunikd (pid ${pid}) is already using root ${root}`);
      }
      await rm(path, { force: true });
    }
  }
  throw conflict(`could not lock root ${root}`);
}
