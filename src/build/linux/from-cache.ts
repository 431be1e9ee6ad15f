// The unpacked tree of a `from:` container image, kept in the build cache (cache.ts) by the
// archive's identity, so a warm build with an unchanged archive neither unpacks it nor hashes its
// tree (docs/cunikfile.md, "rootfs"). The entry holds the tree (rootfs/), how the image runs, the
// tree's content key (what the root disk is keyed by: another archive of the same tree still
// shares one disk) and its resident size (rootfs: auto).
// The archive's identity is its content digest; the digest of a file already hashed is kept in
// the cache too, keyed by its path, device, inode, size, mtime and ctime (a write changes its ctime,
// which nothing sets back), so a daemon restart does not rehash a 200 MB archive either.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../../errors.js';
import { removeQuiet } from '../../images/fsutil.js';
import { BUILDER_VERSION, digestOf, fileDigest, type BuildCache, type CacheEntry } from '../cache.js';
import { unpackContainer, type ContainerImage, type ContainerSource } from './container.js';
import { treeResidentBytes } from './footprint.js';
import { treeKey } from './initramfs.js';

export interface FromTree {
  image: ContainerImage;
  /** The archive's content digest. */
  archive: string;
  /** The tree's content key (initramfs.ts: treeKey): the root disk's cache key. */
  treeKey: string;
  /** What the tree takes unpacked in the guest's memory (footprint.ts). */
  resident: number;
}

/** sha256 of a file's content, remembered in the cache while the file stays the same. */
export async function cachedFileDigest(cache: BuildCache, path: string): Promise<string> {
  const st = await stat(path, { bigint: true });
  const key = digestOf({ step: 'file-digest', v: BUILDER_VERSION, path, id: [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].map(String) });
  const found = cache.lookup<{ digest: string }>(key);
  if (found) return found.meta.digest;
  const digest = await fileDigest(path);
  const after = await stat(path, { bigint: true });
  // Changed while it was read: no entry (the next build hashes it again).
  if (after.size !== st.size || after.mtimeNs !== st.mtimeNs || after.ctimeNs !== st.ctimeNs) return digest;
  await cache.get(key, false, async () => ({ digest }));
  return digest;
}

/** The tree of `src`: from the cache when its archive was unpacked before, else unpacked into a new entry. */
export async function fromTree(src: ContainerSource, cache: BuildCache, noCache: boolean): Promise<CacheEntry<FromTree>> {
  const st = await stat(src.path).catch(() => undefined);
  if (st === undefined) throw invalid(`from: ${src.path}: no such file`, 'from');
  if (!st.isFile()) throw invalid(`from: ${src.path} is not a readable tar: not a regular file`, 'from');
  const archive = await cachedFileDigest(cache, src.path);
  const key = digestOf({ step: 'from-tree', v: BUILDER_VERSION, kind: src.kind, archive });
  return cache.get<FromTree>(key, noCache, async (dir) => {
    const rootfs = join(dir, 'rootfs');
    const scratch = await cache.scratch('archive');
    let image: ContainerImage;
    try {
      image = await unpackContainer(src, scratch, rootfs);
    } finally {
      removeQuiet(scratch);
    }
    return { image, archive, treeKey: await treeKey(rootfs), resident: await treeResidentBytes(rootfs) };
  });
}
