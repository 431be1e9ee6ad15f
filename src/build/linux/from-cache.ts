// The unpacked tree of a `from:` container image, kept in the build cache (cache.ts) by the
// archive's identity, so a warm build with an unchanged archive neither unpacks it nor hashes its
// tree (docs/cunikfile.md, "rootfs"). The entry holds the tree (rootfs/), how the image runs, the
// tree's content key (what the root disk is keyed by: another archive of the same tree still
// shares one disk) and its resident size (rootfs: auto).
// The tree's key is the chain of its layers' diff_ids as the apply computed them (rootfs.ts), not
// as the image's config claims them: the same layers applied by the same builder make the same
// tree, whatever archive or compression carried them, and nothing reads the tree again to hash it.
// The archive's identity is its content digest, hashed at every build (about 1 s for 200 MB): the
// build context is uploaded and unpacked afresh for each build (build/service.ts), so the archive is
// a new file every time and no path or inode identity of it survives from one build to the next.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../../errors.js';
import { removeQuiet } from '../../images/fsutil.js';
import { BUILDER_VERSION, digestOf, fileDigest, type BuildCache, type CacheEntry } from '../cache.js';
import { unpackContainer, type ContainerImage, type ContainerSource } from './container.js';
import type { TreeRow } from './rootfs.js';

export interface FromTree {
  image: ContainerImage;
  /** The archive's content digest. */
  archive: string;
  /** The tree's content key (treeKeyOf): the root disk's cache key. */
  treeKey: string;
  /** What the tree takes unpacked in the guest's memory (footprint.ts). */
  resident: number;
}

/** The tree's listing (rootfs.ts: listTree), kept beside it. */
const TREE_ROWS = 'tree.json';

/** The listing of a cached tree (entry.dir of fromTree's answer). */
export async function treeRows(entryDir: string): Promise<TreeRow[]> {
  return JSON.parse(await readFile(join(entryDir, TREE_ROWS), 'utf8')) as TreeRow[];
}

/** The key of the tree that applying these layers (by their computed diff_ids) makes. */
export const treeKeyOf = (diffIds: string[]): string => digestOf({ step: 'container-tree', v: BUILDER_VERSION, owners: process.getuid?.() === 0, layers: diffIds });

/** The tree of `src`: from the cache when its archive was unpacked before, else unpacked into a new entry. */
export async function fromTree(src: ContainerSource, cache: BuildCache, noCache: boolean): Promise<CacheEntry<FromTree>> {
  const st = await stat(src.path).catch(() => undefined);
  if (st === undefined) throw invalid(`from: ${src.path}: no such file`, 'from');
  if (!st.isFile()) throw invalid(`from: ${src.path} is not a readable tar: not a regular file`, 'from');
  const archive = await fileDigest(src.path);
  const key = digestOf({ step: 'from-tree', v: BUILDER_VERSION, kind: src.kind, archive });
  return cache.get<FromTree>(key, noCache, async (dir) => {
    const rootfs = join(dir, 'rootfs');
    const scratch = await cache.scratch('archive');
    let image: ContainerImage;
    try {
      const { rows, ...rest } = await unpackContainer(src, scratch, rootfs);
      image = rest;
      await writeFile(join(dir, TREE_ROWS), JSON.stringify(rows));
    } finally {
      removeQuiet(scratch);
    }
    return { image, archive, treeKey: treeKeyOf(image.applied.diffIds), resident: image.applied.resident };
  });
}
