// Per-instance copy-on-write overlays (families/overlay.ts), created before an instance's first
// start and kept across restarts; `rm` drops them with the instance directory.
import { execFile } from 'node:child_process';
import { access, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CunikError } from '../errors.js';
import { DEFAULT_QEMU_IMG, pendingOverlays } from '../families/overlay.js';
import type { BootSpec } from '../vmm/types.js';

const run = promisify(execFile);

/** Create every overlay `spec` needs in `dir` that does not exist yet; returns the paths created. */
export async function createOverlays(spec: BootSpec, dir: string, binary = DEFAULT_QEMU_IMG): Promise<string[]> {
  const created: string[] = [];
  for (const o of pendingOverlays(spec, dir, binary)) {
    if (await access(o.path).then(() => true, () => false)) continue;
    try {
      await run(o.argv[0]!, o.argv.slice(1));
      created.push(o.path);
    } catch (err) {
      await rm(o.path, { force: true }); // a half-written overlay must not be taken for a good one
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      const why = e.code === 'ENOENT' ? `${binary} not found (apt-get install qemu-utils)` : (e.stderr ?? e.message).trim();
      throw new CunikError('INTERNAL', `cannot create the instance's disk overlay: ${why}`);
    }
  }
  return created;
}
