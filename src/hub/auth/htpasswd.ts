// Users from an htpasswd file, bcrypt only (`htpasswd -B`, $2y$/$2a$/$2b$): the format Docker
// Distribution reads. Reloaded when the file changes, so users are added without a restart.
import { verify } from '@node-rs/bcrypt';
import { readFile, stat } from 'node:fs/promises';

export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) return;
    const colon = l.indexOf(':');
    const hash = l.slice(colon + 1);
    if (colon <= 0 || !/^\$2[aby]\$\d\d\$/.test(hash)) throw new Error(`htpasswd line ${i + 1}: only bcrypt entries (htpasswd -B) are supported`);
    users.set(l.slice(0, colon), hash);
  });
  return users;
}

export class Htpasswd {
  private users = new Map<string, string>();
  private mtime = -1;

  constructor(private readonly path: string) {}

  async load(): Promise<void> {
    const st = await stat(this.path).catch(() => {
      throw new Error(`cannot read the htpasswd file ${this.path}`);
    });
    if (st.mtimeMs === this.mtime) return;
    this.users = parseHtpasswd(await readFile(this.path, 'utf8'));
    this.mtime = st.mtimeMs;
  }

  /** Is there such a user (now: the file is re-read when it changed)? */
  async has(user: string): Promise<boolean> {
    await this.load().catch(() => undefined);
    return this.users.has(user);
  }

  /** True when the user exists and the password is theirs. */
  async check(user: string, password: string): Promise<boolean> {
    await this.load().catch(() => undefined);
    const hash = this.users.get(user);
    if (hash === undefined) return false;
    return verify(password, hash.replace(/^\$2y\$/, '$2b$'));
  }
}
