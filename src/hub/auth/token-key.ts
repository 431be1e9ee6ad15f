// The store's signing key: made once, kept 0600 in the store, so several hubs over one store
// accept each other's tokens (and the web UI's sessions). Apart from auth/index.ts so the web UI
// of a hub without users does not load jose and bcrypt for it.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The store's signing key (auth/token.key, made on first use): tokens, and the web UI's sessions. */
export async function tokenKey(root: string): Promise<Uint8Array> {
  const path = join(root, 'auth', 'token.key');
  await mkdir(join(root, 'auth'), { recursive: true, mode: 0o700 });
  try {
    const fh = await open(path, 'wx', 0o600);
    await fh.writeFile(randomBytes(32));
    await fh.sync();
    await fh.close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  await chmod(path, 0o600);
  const key = await readFile(path);
  if (key.length !== 32) throw new Error(`${path} is damaged (remove it: tokens issued before are then refused)`);
  return new Uint8Array(key);
}
