// The build service the daemon offers: a build context (a tar) and a Cunikfile name in, an image
// out. prepare() reads the context and checks the Cunikfile, so its mistakes are answered as
// errors before any output; run() then builds, reporting progress lines.

import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { installRoot } from '../config/defaults.js';
import { invalid } from '../errors.js';
import { removeQuiet } from '../images/fsutil.js';
import { parseTaggedReference } from '../images/reference.js';
import { build, checkSources, type BuiltImageStore, type Progress } from './builder.js';
import { BuildCache, type CacheRecord } from './cache.js';
import { Context, unpackContext } from './context.js';
import { ContextStore } from './context-store.js';
import { insideDir } from '../util/inside-dir.js';
import { parseCunikfile, type BuildSpec } from './cunikfile.js';

/** system df's Build Cache line. */
export interface BuildCacheUsage {
  total: number;
  active: number;
  size: number;
  reclaimable: number;
  entries?: CacheRecord[];
}

export const DEFAULT_CUNIKFILE = 'Cunikfile';

export interface BuildRequest {
  /** NAME[:TAG] for the image. */
  tag: string;
  /** The Cunikfile's path inside the context; default "Cunikfile". */
  file?: string;
  noCache?: boolean;
}

export interface BuildResult {
  id: string;
  ref: string;
}

export interface PreparedBuild {
  readonly spec: BuildSpec;
  run(progress: Progress): Promise<BuildResult>;
  /** Remove the unpacked context (run() does it too). */
  dispose(): void;
}

export interface BuildServiceOptions {
  root: string;
  images: BuiltImageStore;
  initPath?: string;
  modulesRoot?: string;
  bootDir?: string;
}

export class BuildService {
  readonly cache: BuildCache;
  /** Start times (ms) of the builds running now: prune spares what they may be using. */
  private readonly running = new Set<{ since: number }>();

  /** Big context files kept by content, so an unchanged one is not sent again (context-store.ts). */
  readonly contextFiles: ContextStore;

  constructor(private readonly opts: BuildServiceOptions) {
    this.cache = new BuildCache(opts.root);
    this.contextFiles = new ContextStore(join(this.cache.dir, 'context'));
  }

  /** Which of these context file digests the daemon lacks: the client sends those, and refers to the rest. */
  missingContextFiles(digests: string[]): string[] {
    return this.contextFiles.missing(digests);
  }

  /** system df's Build Cache line; `verbose`: each entry too. */
  async cacheUsage(verbose: boolean): Promise<BuildCacheUsage> {
    const list = [...(await this.cache.list()), ...this.contextFiles.list()].sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
    return {
      total: list.length,
      active: list.filter((r) => r.inUse).length,
      size: list.reduce((n, r) => n + r.size, 0),
      reclaimable: list.reduce((n, r) => n + r.reclaimable, 0),
      ...(verbose && { entries: list }),
    };
  }

  /**
   * builder prune: `all` (-a) every entry, else those no image links; `until` (ms) only entries
   * last used before it. Entries a running build may be using (used since it started) stay.
   */
  async pruneCache(opts: { all: boolean; until?: number }): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    // Context files kept by content go with any prune but one limited by age (they are only a
    // shortcut: the next build sends them again).
    const kept = opts.until === undefined && this.running.size === 0 ? this.contextFiles.prune() : { deleted: [], freed: 0 };
    const pruned = await this.cache.prune({
      all: opts.all,
      keep: (r) => {
        const used = Date.parse(r.lastUsedAt);
        if (opts.until !== undefined && used >= opts.until) return true;
        for (const b of this.running) if (used >= b.since) return true;
        return false;
      },
    });
    return { deleted: [...pruned.deleted, ...kept.deleted], spaceReclaimed: pruned.spaceReclaimed + kept.freed };
  }

  private initPath(): string {
    const p = this.opts.initPath ?? join(installRoot(), 'build', 'linux', 'init');
    if (!existsSync(p)) throw invalid(`cunik-init is missing (${p}): run \`npm run build\` (it needs gcc)`);
    return p;
  }

  async prepare(body: Readable, req: BuildRequest): Promise<PreparedBuild> {
    const work = await this.cache.scratch('context');
    try {
      const tarFile = join(work, 'context.tar');
      await pipeline(body, createWriteStream(tarFile, { mode: 0o600 }));
      const ref = parseTaggedReference(req.tag, 't').ref;
      const dir = join(work, 'context');
      await unpackContext(tarFile, dir, this.contextFiles);
      removeQuiet(tarFile);
      const name = posix.normalize(req.file ?? DEFAULT_CUNIKFILE);
      const file = name.startsWith('/') ? undefined : insideDir(dir, name);
      if (file === undefined) throw invalid(`file: ${name} must be a path inside the build context`, 'file');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        throw invalid(`no ${name} in the build context`, 'file');
      }
      const spec = parseCunikfile(text, posix.basename(name));
      const ctx = new Context(dir);
      // A file the Cunikfile names but the context lacks is a 400 now, not a failed step later.
      checkSources(spec, ctx);
      const deps = {
        cache: this.cache,
        store: this.opts.images,
        initPath: spec.family === 'linux' ? this.initPath() : '',
        modulesRoot: this.opts.modulesRoot ?? '/lib/modules',
        bootDir: this.opts.bootDir ?? '/boot',
      };
      return {
        spec,
        run: async (progress) => {
          const token = { since: Date.now() - 1000 }; // mtimes may be a little coarse
          this.running.add(token);
          try {
            const image = await build(spec, ctx, { ref, noCache: req.noCache ?? false }, deps, progress);
            return { id: image.id, ref };
          } finally {
            this.running.delete(token);
            removeQuiet(work);
          }
        },
        dispose: () => removeQuiet(work),
      };
    } catch (err) {
      removeQuiet(work);
      throw err;
    }
  }
}
