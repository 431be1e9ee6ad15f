// What `cunik system check` verifies in the image store: every blob's content against its digest
// (streamed, one read each), every image's boot files, and the images set aside when the store
// opened (persist.ts). Pure inspection: the store applies --repair.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import type { CheckProblem } from '../api/check.js';
import type { BlobStore } from './blobs.js';
import type { BrokenImage } from './persist.js';
import type { ImageRecord } from './state.js';

/** The sha256 digest of a file, read once as a stream. */
export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve(`sha256:${hash.digest('hex')}`));
  });
}

export interface ImageCheck {
  /** Blobs whose content is not their digest: digest → the sentence. */
  corrupt: Map<string, string>;
  problems: CheckProblem[];
  blobs: number;
}

/** Name an image as a user knows it: its first tag, else its short id. */
export const imageName = (tags: string[], digestOrId: string): string => tags[0] ?? digestOrId.replace(/^sha256:/, '').slice(0, 12);

export async function checkImageStore(opts: {
  blobs: BlobStore;
  images: ImageRecord[];
  tagsOf: (digest: string) => string[];
  broken: BrokenImage[];
  bootFiles: (r: ImageRecord) => string[];
}): Promise<ImageCheck> {
  const corrupt = new Map<string, string>();
  const problems: CheckProblem[] = [];
  const { digests } = opts.blobs.scan();
  for (const d of digests) {
    let actual: string;
    try {
      actual = await hashFile(opts.blobs.path(d));
    } catch (err) {
      corrupt.set(d, `blob ${d} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      continue;
    }
    if (actual !== d) corrupt.set(d, `blob ${d} is corrupt (its content's digest is ${actual})`);
  }
  for (const [d, problem] of corrupt) {
    const users = opts.images.filter((r) => r.blobs.includes(d)).map((r) => imageName(opts.tagsOf(r.digest), r.id));
    problems.push({ kind: 'blob', subject: d, problem: users.length ? `${problem}; used by image ${users.join(', ')}` : problem, path: opts.blobs.path(d), repaired: false });
  }
  for (const r of opts.images) {
    const missing = opts.bootFiles(r).filter((f) => !existsSync(f));
    if (missing.length > 0) problems.push({ kind: 'image', subject: imageName(opts.tagsOf(r.digest), r.id), problem: `its boot files are missing: ${missing.join(', ')}`, repaired: false });
  }
  for (const b of opts.broken) {
    problems.push({ kind: 'image', subject: imageName(b.refs, b.digest), problem: `cannot be used: ${b.problem}`, repaired: false });
  }
  return { corrupt, problems, blobs: digests.length };
}
