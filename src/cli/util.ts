// What every verb shares: the client, one-line errors with exit 125, multi-target fan-out.
import type { Command } from 'commander';
import type { CunikClient } from '../client/index.js';
import { describeSocketError } from '../client/errors.js';
import { fsReason } from '../util/fs-reason.js';
import { json } from './format/table.js';

export const EXIT_CLI_ERROR = 125;

export function fail(message: string): never {
  process.stderr.write(`cunik: ${message}\n`);
  process.exit(EXIT_CLI_ERROR);
}

/**
 * What a user reads for an error. The client words its socket errors itself (client/errors.ts); a
 * reset that escaped it (a raw stream) is worded the same way.
 */
export function errorMessage(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code === 'ECONNRESET') return describeSocketError(err)!;
  // A file error no verb put in its own words: the path and why, not Node's "ENOENT: ..., open".
  if (e?.syscall !== undefined && e.code !== undefined && typeof e.path === 'string') return `${e.path}: ${fsReason(err)}`;
  return err instanceof Error ? err.message : String(err);
}

/** A write to a closed stdout (`cunik ps | head -1`): the reader is done, so are we, quietly, as other CLIs. */
export const stdoutGone = (err: unknown): boolean => (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';

/** The client for the daemon chosen by the global -H option. */
export async function clientFor(cmd: Command): Promise<CunikClient> {
  const { connectClient } = await import('../client/connect.js');
  const host = cmd.optsWithGlobals<{ host?: string }>().host;
  try {
    return connectClient(host);
  } catch (err) {
    return fail(errorMessage(err));
  }
}

/** Wrap a verb's action: any error becomes one line on stderr and exit 125. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (stdoutGone(err)) process.exit(0);
      fail(errorMessage(err));
    }
  };
}

/** Run `op` on every target in parallel (docker/cli's pattern): print each success, each failure on its own line. */
export async function forEachTarget(targets: string[], op: (target: string) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(targets.map(async (t) => {
    await op(t);
    return t;
  }));
  let failed = false;
  for (const r of results) {
    if (r.status === 'fulfilled') process.stdout.write(`${r.value}\n`);
    else {
      failed = true;
      process.stderr.write(`cunik: ${errorMessage(r.reason)}\n`);
    }
  }
  if (failed) process.exit(EXIT_CLI_ERROR);
}

/** inspect -f: the template, and the Docker view of an object (compat/docker/view.ts). */
export interface InspectFormat<T> {
  template: string;
  view: (v: T) => object;
}

/**
 * `inspect` of several targets (docker/cli's pattern): what was found, as one JSON array on stdout;
 * each failure on its own line on stderr; exit 125 if any failed.
 */
export async function inspectEach<T>(targets: string[], inspect: (target: string) => Promise<T>, format?: InspectFormat<T>): Promise<void> {
  const results = await Promise.allSettled(targets.map(inspect));
  const found = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  for (const r of results) if (r.status === 'rejected') process.stderr.write(`cunik: ${errorMessage(r.reason)}\n`);
  if (format) {
    // -f TEMPLATE: Docker's shape of each object with the native fields beside it, one line each.
    const [{ renderEach }, { withMaps }] = await Promise.all([import('./format/output.js'), import('./format/views.js')]);
    process.stdout.write(renderEach(format.template, found.map((v) => withMaps({ ...format.view(v), ...(v as object) }))));
  } else process.stdout.write(json(found));
  if (found.length < targets.length) process.exitCode = EXIT_CLI_ERROR;
}
