// The volume store: one directory per named volume under <root>/volumes/<name>/, holding
// volume.json and the data: data/ (a share, given to QEMU as a 9p folder) or disk.img (a block
// volume: a sparse raw file made ext4 by mkfs.ext4). The only code that touches that tree.
// A volume is made under a staging name and renamed into place, and removed by renaming it away
// first, so no half-made or half-removed volume is ever listed; leftovers go at the next init.
import { execFile } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { writeDurably } from '../util/atomic-write.js';
import { chmod, chown, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { CheckProblem } from '../api/check.js';
import { VOLUME_NAME_PATTERN } from '../api/rules.js';
import { conflict, CunikError, invalid, notFound } from '../errors.js';
import { diskUsage } from '../util/disk-usage.js';
import { onPath } from '../util/on-path.js';
import { checkBlockSize, checkVolumeName, DEFAULT_BLOCK_SIZE, randomVolumeName, type CreateVolumeOptions, type Volume, type VolumeDriver } from './types.js';

const META = 'volume.json';
const STAGING = '.new-';
const TRASH = '.trash-';

/** volume.json, checked when read: a damaged one makes the volume unlisted (system check reports it), never a crash. */
const MetaSchema = Type.Object({
  name: Type.String({ pattern: VOLUME_NAME_PATTERN }),
  driver: Type.Union([Type.Literal('block'), Type.Literal('share')]),
  createdAt: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  anonymous: Type.Boolean(),
  device: Type.Optional(Type.String({ pattern: '^/' })),
});
type Meta = Static<typeof MetaSchema>;
const metaValidator = Compile(MetaSchema);

export interface VolumeStoreOptions {
  /** The mkfs.ext4 binary; default: found on PATH, /usr/sbin or /sbin. */
  mkfs?: string;
  /**
   * Who owns a share's data/ folder: the VM user, as whom QEMU reads and writes it (vmm/vm-user.ts).
   * Default: whoever runs the daemon.
   */
  shareOwner?: { uid: number; gid: number };
}

/** A share of a host folder: the folder must exist (as Docker's local driver finds at mount time, here at once). */
async function checkDevice(device: string, driver: VolumeDriver): Promise<void> {
  if (driver !== 'share') throw invalid('only share volumes can be a host folder (device=)', 'device');
  if (!device.startsWith('/')) throw invalid(`the volume's host folder must be an absolute path, got ${JSON.stringify(device)}`, 'device');
  const st = await stat(device).catch(() => undefined);
  if (st === undefined) throw invalid(`the volume's host folder ${device} does not exist`, 'device');
  if (!st.isDirectory()) throw invalid(`the volume's host folder ${device} is not a directory (folders are shared over 9p)`, 'device');
}

/** mkfs.ext4 on PATH or in the sbin directories a non-root PATH often lacks. */
export function findMkfs(path = process.env['PATH'] ?? ''): string | undefined {
  return onPath('mkfs.ext4', ['/usr/sbin', '/sbin'], path);
}

export class VolumeStore {
  readonly dir: string;
  private readonly quarantineDir: string;

  constructor(root: string, private readonly opts: VolumeStoreOptions = {}) {
    this.dir = join(root, 'volumes');
    this.quarantineDir = join(root, 'quarantine', 'volumes');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const entry of await readdir(this.dir)) {
      if (entry.startsWith(STAGING) || entry.startsWith(TRASH)) await rm(join(this.dir, entry), { recursive: true, force: true });
    }
  }

  /** The host path a volume of this name and driver has (or would have once created). */
  mountpointOf(name: string, driver: VolumeDriver): string {
    return join(this.dir, name, driver === 'block' ? 'disk.img' : 'data');
  }

  async list(): Promise<Volume[]> {
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
    const found = await Promise.all(names.map((n) => this.find(n)));
    return found.filter((v): v is Volume => v !== undefined).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The volume, or undefined when there is none of that name. */
  async find(name: string): Promise<Volume | undefined> {
    if (name.startsWith('.') || name.includes('/')) return undefined;
    const read = await this.readMeta(name);
    if (!('meta' in read)) return undefined;
    const meta = read.meta;
    const mountpoint = meta.device ?? this.mountpointOf(meta.name, meta.driver);
    const volume: Volume = { name: meta.name, driver: meta.driver, mountpoint, createdAt: meta.createdAt, labels: meta.labels, anonymous: meta.anonymous, ...(meta.device !== undefined && { device: meta.device }) };
    if (meta.driver === 'block') volume.size = (await stat(mountpoint).catch(() => undefined))?.size ?? 0;
    return volume;
  }

  /** A volume's record, checked against its schema and its directory's name, or why it is unusable. */
  private async readMeta(name: string): Promise<{ meta: Meta } | { error: string }> {
    let text: string;
    try {
      text = await readFile(join(this.dir, name, META), 'utf8');
    } catch (err) {
      return { error: `its ${META} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { error: `its ${META} is not JSON` };
    }
    if (!metaValidator.Check(value)) {
      const e = metaValidator.Errors(value)[0];
      return { error: `its ${META} is damaged: ${e ? `${e.instancePath || 'the record'}: ${e.message}` : 'not a volume record'}` };
    }
    if (value.name !== name) return { error: `its ${META} names another volume (${value.name})` };
    return { meta: value };
  }

  /**
   * Every volume directory without a usable record or data (system check). `repair` moves each
   * one whole to <root>/quarantine/volumes/: volume data is never deleted by a check.
   */
  async check(repair: boolean): Promise<{ problems: CheckProblem[]; volumes: number }> {
    const problems: CheckProblem[] = [];
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
    for (const name of names) {
      const read = await this.readMeta(name);
      let problem = 'error' in read ? read.error : undefined;
      // A host folder of the user's may come and go: not the store's to report, nor to move.
      if ('meta' in read && read.meta.device === undefined && !existsSync(this.mountpointOf(name, read.meta.driver))) problem = `its ${read.meta.driver === 'block' ? 'disk.img' : 'data folder'} is missing`;
      if (problem === undefined) continue;
      const path = join(this.dir, name);
      let repaired = false;
      if (repair) {
        const aside = join(this.quarantineDir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
        await mkdir(this.quarantineDir, { recursive: true, mode: 0o700 });
        renameSync(path, aside);
        repaired = true;
        problem += `; moved to ${aside}`;
      }
      problems.push({ kind: 'volume', subject: name, problem, path, repaired });
    }
    return { problems, volumes: names.length };
  }

  async get(name: string): Promise<Volume> {
    const v = await this.find(name);
    if (!v) throw notFound(`no such volume: ${name}`);
    return v;
  }

  /**
   * Make a volume. As Docker, creating a name that exists returns that volume when the driver is
   * the same (a conflict otherwise).
   */
  async create(opts: CreateVolumeOptions = {}): Promise<Volume> {
    const name = opts.name === undefined ? randomVolumeName() : checkVolumeName(opts.name);
    const driver = opts.driver ?? 'share';
    if (driver !== 'block' && opts.sizeBytes !== undefined) throw invalid('only block volumes take a size', 'sizeBytes');
    const size = driver === 'block' ? checkBlockSize(opts.sizeBytes ?? DEFAULT_BLOCK_SIZE) : 0;
    if (opts.device !== undefined) await checkDevice(opts.device, driver);
    const existing = await this.find(name);
    if (existing) return this.same(existing, driver, opts.device);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const staging = join(this.dir, `${STAGING}${randomBytes(8).toString('hex')}`);
    try {
      await mkdir(staging, { mode: 0o700 });
      if (driver === 'block') await this.makeBlock(join(staging, 'disk.img'), size);
      else if (opts.device === undefined) await this.ownShare(join(staging, 'data'), true);
      const meta: Meta = { name, driver, createdAt: new Date().toISOString(), labels: { ...(opts.labels ?? {}) }, anonymous: opts.anonymous ?? false, ...(opts.device !== undefined && { device: opts.device }) };
      await writeDurably(join(staging, META), JSON.stringify(meta, null, 2) + '\n', 0o600);
      try {
        renameSync(staging, join(this.dir, name));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Made meanwhile by another request: that one stands.
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return this.same(await this.get(name), driver, opts.device);
        throw err;
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return this.get(name);
  }

  /**
   * Remove a volume: refused while `usedBy` names instances that use it (any state, as Docker).
   * Renamed away first, so it is gone from listings at once even if deleting its data takes long.
   */
  async remove(name: string, usedBy: (name: string) => string[]): Promise<Volume> {
    const volume = await this.get(name);
    const users = usedBy(volume.name);
    if (users.length > 0) throw conflict(`volume ${volume.name} is in use by instance ${users.map((u) => u.slice(0, 12)).join(', ')}`);
    const trash = join(this.dir, `${TRASH}${randomBytes(8).toString('hex')}`);
    try {
      renameSync(join(this.dir, volume.name), trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`no such volume: ${name}`);
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
    return volume;
  }

  /**
   * Remove the anonymous volumes no instance uses (`all`: named ones too), as Docker does since
   * 23.0; returns their names and the bytes they held.
   */
  async prune(usedBy: (name: string) => string[], all = false, match: (v: Volume) => boolean = () => true): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const deleted: string[] = [];
    let spaceReclaimed = 0;
    for (const v of await this.list()) {
      if (usedBy(v.name).length > 0 || (!all && !v.anonymous) || !match(v)) continue;
      const size = await this.usage(v);
      try {
        await this.remove(v.name, usedBy);
      } catch {
        continue; // taken into use or removed meanwhile
      }
      deleted.push(v.name);
      spaceReclaimed += size;
    }
    return { deleted, spaceReclaimed };
  }

  /** Bytes a volume occupies on the host disk (a block file's allocated blocks: it is sparse); 0 for a host folder of the user's. */
  async usage(v: Volume): Promise<number> {
    // A host folder of the user's is not the store's: removing the volume frees none of it.
    if (v.device !== undefined) return 0;
    if (v.driver === 'share') return diskUsage(v.mountpoint);
    const st = await stat(v.mountpoint).catch(() => undefined);
    return st ? st.blocks * 512 : 0;
  }

  /**
   * Give a share's folder to the VM user (a volume made before the daemon had one, or by a daemon
   * with another). Only the folder itself: what is in it keeps its owner, as the guest left it.
   * Never a host folder of the user's (device): that keeps its owner, as a bind mount's does.
   */
  async claimShares(names: string[]): Promise<void> {
    for (const name of names) {
      const v = await this.find(name);
      if (v?.driver === 'share' && v.device === undefined) await this.ownShare(v.mountpoint, false);
    }
  }

  private async ownShare(dir: string, make: boolean): Promise<void> {
    if (make) {
      // The share's top folder as the guest sees it (the daemon's umask is 077); volumes/ keeps host users out.
      await mkdir(dir);
      await chmod(dir, 0o755);
    }
    const owner = this.opts.shareOwner;
    if (owner === undefined) return;
    const st = await stat(dir);
    if (st.uid !== owner.uid || st.gid !== owner.gid) await chown(dir, owner.uid, owner.gid);
  }

  private same(existing: Volume, driver: VolumeDriver, device: string | undefined): Volume {
    if (existing.driver !== driver) throw conflict(`volume ${existing.name} already exists with driver ${existing.driver}`);
    if (existing.device !== device) throw conflict(`volume ${existing.name} already exists with other options (${existing.device !== undefined ? `device=${existing.device}` : 'a folder of its own'})`);
    return existing;
  }

  private async makeBlock(file: string, size: number): Promise<void> {
    const fh = await open(file, 'wx', 0o600);
    try {
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
    const mkfs = this.opts.mkfs ?? findMkfs();
    if (mkfs === undefined) throw new CunikError('INTERNAL', 'block volumes need mkfs.ext4, which is not installed (apt-get install e2fsprogs)');
    try {
      await promisify(execFile)(mkfs, ['-F', '-q', file], { timeout: 120_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new CunikError('INTERNAL', `mkfs.ext4 failed: ${(e.stderr ?? '').trim().split('\n')[0] || e.message}`);
    }
  }
}
