// The instance store: one directory per instance under <root>/instances/<id>/, holding
// instance.json (written atomically) and the VM's files. The only code that touches that tree.
//
// The small metadata operations of create/save/remove (mkdir, link, rename, unlink of a handful of
// entries) are synchronous calls: each takes microseconds on a local file system, while the
// promise version of each costs a thread-pool round trip (two thread switches and a promise) that
// cost more CPU than the call itself: with 4 in parallel on 2 cores they were a measurable part
// of the daemon's CPU per lifecycle (docs/instances.md). Only fsync, which may wait on the
// disk, stays off the event loop.
import { atomicWriteFile, writeDurably } from '../util/atomic-write.js';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmPaths } from '../vmm/types.js';
import type { InstanceRecord } from './record.js';
import { parseStoredRecord } from './record-schema.js';

const RECORD = 'instance.json';
const QUARANTINE_REASON = 'REASON';

/** An instance directory set aside at load: its id, why, and where it now is. */
export interface Quarantined {
  id: string;
  reason: string;
  path: string;
}

export class InstanceStore {
  readonly dir: string;
  /**
   * Unix sockets live apart, under short names: a socket path must fit in 108 bytes, and
   * <root>/instances/<64 hex>/console.sock often does not.
   */
  readonly socketDir: string;
  /** Instance directories whose record could not be used, set aside whole (loadAll). */
  readonly quarantineDir: string;

  constructor(root: string) {
    this.dir = join(root, 'instances');
    this.socketDir = join(root, 'sock');
    this.quarantineDir = join(root, 'quarantine', 'instances');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await mkdir(this.socketDir, { recursive: true, mode: 0o700 });
    // Leftovers of removals interrupted by a crash.
    for (const entry of await readdir(this.dir)) {
      if (entry.startsWith('.trash-') || entry.startsWith('.new-')) await rm(join(this.dir, entry), { recursive: true, force: true });
    }
  }

  async removeSockets(id: string): Promise<void> {
    const { qmpSocket, consoleSocket } = this.paths(id);
    unlinkQuiet(qmpSocket);
    unlinkQuiet(consoleSocket);
  }

  /**
   * QEMU leaves its sockets behind when it exits: drop every socket but the live instances' (and
   * the quarantined ones': their VMs may still run).
   */
  async removeSocketsExcept(liveIds: Set<string>): Promise<void> {
    const live = new Set([...liveIds].map((id) => id.slice(0, 24)));
    for (const entry of await readdir(this.socketDir)) {
      if (!live.has(entry.replace(/\.(qmp|con)$/, ''))) await rm(join(this.socketDir, entry), { force: true });
    }
  }

  instanceDir(id: string): string {
    return join(this.dir, id);
  }

  paths(id: string): VmPaths {
    const dir = this.instanceDir(id);
    return {
      dir,
      pidfile: join(dir, 'qemu.pid'),
      qmpSocket: join(this.socketDir, `${id.slice(0, 24)}.qmp`),
      consoleLog: join(dir, 'console.log'),
      consoleSocket: join(this.socketDir, `${id.slice(0, 24)}.con`),
      vmmLog: join(dir, 'qemu.log'),
      exitFile: join(dir, 'exit'),
    };
  }

  /**
   * The VM's own pid from the pidfile QEMU wrote, if there is one. A few bytes read synchronously
   * (a promise read is four thread-pool round trips).
   */
  vmPid(id: string): number | undefined {
    try {
      const pid = Number(readFileSync(this.paths(id).pidfile, 'utf8'));
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Every record, checked against its schema (record-schema.ts). A directory without a record is
   * what a run -d killed before its first save leaves (see create): it is removed and its id
   * returned as `dropped` (a VM may have been started from it). A record that cannot be read, is
   * not JSON or does not fit the schema is never deleted: its directory is moved whole to
   * <root>/quarantine/instances/<id>-<time>/ with a REASON file, and returned as `quarantined`.
   */
  async loadAll(): Promise<{ records: InstanceRecord[]; dropped: string[]; quarantined: Quarantined[] }> {
    const records: InstanceRecord[] = [];
    const dropped: string[] = [];
    const quarantined: Quarantined[] = [];
    const names = new Set<string>();
    for (const id of await readdir(this.dir)) {
      if (id.startsWith('.')) continue;
      let text: string;
      try {
        text = await readFile(join(this.dir, id, RECORD), 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          rmSync(join(this.dir, id), { recursive: true, force: true });
          dropped.push(id);
        } else if (code === 'ENOTDIR') {
          quarantined.push(this.quarantine(id, 'not an instance directory'));
        } else {
          quarantined.push(this.quarantine(id, `its instance.json cannot be read (${code ?? (err as Error).message})`));
        }
        continue;
      }
      const parsed = parseStoredRecord(text, id);
      if ('error' in parsed) quarantined.push(this.quarantine(id, `its instance.json is damaged: ${parsed.error}`));
      else if (names.has(parsed.record.name)) quarantined.push(this.quarantine(id, `its name ${parsed.record.name} is another instance's`));
      else {
        names.add(parsed.record.name);
        records.push(parsed.record);
      }
    }
    return { records, dropped, quarantined };
  }

  /**
   * Set an instance directory aside whole (console, exit file, overlays and the damaged record
   * kept), with the reason beside it. If even the move fails, the directory stays where it is
   * (skipped, never deleted).
   */
  private quarantine(id: string, reason: string): Quarantined {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const dest = join(this.quarantineDir, `${id}-${stamp}`);
    try {
      mkdirSync(this.quarantineDir, { recursive: true, mode: 0o700 });
      const source = join(this.dir, id);
      if (statSync(source).isDirectory()) renameSync(source, dest);
      else {
        mkdirSync(dest, { mode: 0o700 });
        renameSync(source, join(dest, id));
      }
    } catch (err) {
      return { id, reason: `${reason}; left in place: it could not be moved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, path: join(this.dir, id) };
    }
    try {
      writeFileSync(join(dest, QUARANTINE_REASON), `${reason}\n`);
    } catch {
      /* the log line still says why */
    }
    return { id, reason, path: dest };
  }

  /** What the quarantine folder holds (for system check and info): one entry per set-aside directory. */
  listQuarantined(): Quarantined[] {
    let entries: string[];
    try {
      entries = readdirSync(this.quarantineDir);
    } catch {
      return [];
    }
    return entries.map((entry) => {
      const path = join(this.quarantineDir, entry);
      let reason = 'no reason recorded';
      try {
        reason = readFileSync(join(path, QUARANTINE_REASON), 'utf8').trim() || reason;
      } catch {
        /* kept as found */
      }
      return { id: entry.replace(/-[0-9T-]+Z$/, ''), reason, path };
    });
  }

  /** Delete what the quarantine folder holds (system check --repair); returns the paths removed. */
  clearQuarantine(): string[] {
    const removed = this.listQuarantined().map((q) => q.path);
    for (const path of removed) rmSync(path, { recursive: true, force: true });
    return removed;
  }

  /**
   * Create the instance directory with its record and boot artefacts in one step: everything is
   * prepared in a hidden directory that is renamed into place, so a crash leaves no half instance.
   * Artefacts are hard-linked from the image (a copy across file systems), so removing the image
   * never breaks the instance.
   *
   * `withRecord: false` (an instance started at once, as `run -d` does): the directory goes in
   * place without its record, which the start's save writes first; one write instead of two. A
   * daemon killed in between finds a directory without a record at its next start and removes it,
   * and ends any VM started from it (restore.ts), as if the request had never come.
   */
  async create(record: InstanceRecord, artefacts: Record<string, string>, withRecord = true): Promise<InstanceRecord> {
    const staging = join(this.dir, `.new-${record.id}`);
    mkdirSync(staging, { mode: 0o700 });
    try {
      const boot = { ...record.boot };
      for (const [name, source] of Object.entries(artefacts)) {
        const target = join(staging, name);
        try {
          linkSync(source, target);
        } catch {
          copyFileSync(source, target);
        }
      }
      const final = this.instanceDir(record.id);
      if (artefacts['kernel']) boot.kernelPath = join(final, 'kernel');
      if (artefacts['initrd']) boot.initrdPath = join(final, 'initrd');
      if (artefacts['disk']) boot.diskPath = join(final, 'disk');
      const withPaths = { ...record, boot };
      writeFileSync(join(staging, 'console.log'), '');
      // The staging directory is invisible until renamed: the record needs no temp file of its own.
      if (withRecord) await writeDurably(join(staging, RECORD), JSON.stringify(withPaths, null, 2));
      renameSync(staging, final);
      return withPaths;
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw err;
    }
  }

  private readonly writes = new Map<string, Promise<void>>();

  /**
   * Persist a record. Writes of one record are queued and each serialises the record when its
   * turn comes, so the file always ends with the latest state, whatever order callers finish in.
   */
  save(record: InstanceRecord): Promise<void> {
    const previous = this.writes.get(record.id) ?? Promise.resolve();
    const next = previous.then(() => this.write(record));
    const settled = next.catch(() => undefined);
    this.writes.set(record.id, settled);
    void settled.then(() => {
      if (this.writes.get(record.id) === settled) this.writes.delete(record.id);
    });
    return next;
  }

  /**
   * Crash-safe replacement of the record (util/atomic-write.ts): a reader, or a daemon restarted
   * after SIGKILL, sees the old record or the new one, never half of one.
   */
  private async write(record: InstanceRecord): Promise<void> {
    await atomicWriteFile(join(this.instanceDir(record.id), RECORD), JSON.stringify(record, null, 2));
  }

  /** Remove an instance directory: renamed away first, so it vanishes atomically. */
  async remove(id: string): Promise<void> {
    await this.removeSockets(id);
    const trash = join(this.dir, `.trash-${id}`);
    renameSync(this.instanceDir(id), trash);
    removeFlatDir(trash);
  }
}

/**
 * Remove a directory of plain files (an instance's): one unlink each and an rmdir, a third of the
 * CPU of rmSync's recursive walk (an lstat per entry and a failed rmdir first); anything else in
 * it (a directory a newer version made) falls back to rmSync.
 */
function removeFlatDir(dir: string): void {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) rmSync(join(dir, entry.name), { recursive: true, force: true });
      else unlinkSync(join(dir, entry.name));
    }
    rmdirSync(dir);
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
}

function unlinkQuiet(path: string): void {
  if (!existsSync(path)) return;
  try {
    unlinkSync(path);
  } catch {
    /* gone meanwhile */
  }
}
