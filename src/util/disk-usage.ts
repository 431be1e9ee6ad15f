// Bytes a directory tree occupies on its own: the sizes of its regular files, skipping files
// hard-linked elsewhere (an instance's kernel is a link to the image's copy until the image goes).
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function diskUsage(dir: string, opts: { skipShared?: boolean } = {}): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0; // gone meanwhile
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += await diskUsage(path, opts);
    else if (e.isFile()) {
      const st = await lstat(path).catch(() => undefined);
      if (st && !(opts.skipShared && st.nlink > 1)) total += st.size;
    }
  }
  return total;
}
