// `cunik hub serve --example`: a hub that holds the project's example images (examples/*), so a
// newcomer can browse a populated hub and `cunik pull` from it at once. The images are built and
// pushed exactly as a user would do it, with the cunik CLI against the local cunikd (which the CLI
// starts if none runs): `cunik build -t NAME` (the build cache makes a rebuild of an unchanged
// example quick), `cunik tag NAME HUB/NAME:latest`, `cunik push` through the hub's own HTTP API,
// then the HUB/NAME tag is removed again so the daemon's names are as they were (NAME stays).
// What cannot be built here (no Debian kernel, no redis-server...) is said in one line and skipped.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { installRoot } from '../config/defaults.js';

/** Examples whose build context is not their own folder (hello packs the test kernel `npm run build` makes). */
const CONTEXTS: Record<string, { context: string; needs: string }> = {
  hello: { context: join('build', 'kernels'), needs: join('build', 'kernels', 'hello.elf') },
};

export interface Example {
  name: string;
  cunikfile: string;
  context: string;
  /** A file the build needs that is not in the repository itself, when there is one. */
  needs?: string;
}

/** Every folder of examples/ with a Cunikfile, sorted, hello first (it builds in a moment). */
export function listExamples(root = installRoot()): Example[] {
  const dir = join(root, 'examples');
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => existsSync(join(dir, n, 'Cunikfile'))).sort() : [];
  names.sort((a, b) => (a === 'hello' ? -1 : b === 'hello' ? 1 : 0));
  return names.map((name) => {
    const c = CONTEXTS[name];
    return {
      name,
      cunikfile: join(dir, name, 'Cunikfile'),
      context: c ? join(root, c.context) : join(dir, name),
      ...(c && { needs: join(root, c.needs) }),
    };
  });
}

/** The host:port the local CLI reaches a hub listening on `host`:`port` at. */
export function pushHost(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '') return `127.0.0.1:${port}`;
  if (host === '::') return `[::1]:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface ExampleRun {
  /** Stop a population still running (the hub is stopping). */
  cancel(): void;
  done: Promise<{ pushed: string[]; missing: { name: string; why: string }[] }>;
}

/** Build and push every example to the hub at `hub` (host:port), saying what it does on `say`. */
export function pushExamples(hub: string, say: (line: string) => void, root = installRoot()): ExampleRun {
  const cunik = join(root, 'bin', 'cunik');
  let child: ChildProcess | undefined;
  let cancelled = false;
  const run = (args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      if (cancelled) return reject(new Error('cancelled'));
      let err = '';
      child = spawn(cunik, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      child.once('error', (e) => reject(new Error(`cannot run ${cunik}: ${e.message}`)));
      child.once('exit', (code) => {
        child = undefined;
        // The CLI started a daemon: worth saying where it is.
        const started = /^cunik: (no daemon was running.*)$/m.exec(err);
        if (started) say(`--example: ${started[1]}`);
        if (code === 0) return resolve();
        // The CLI's own sentence, without its "cunik: " prefix.
        const line = err.trim().split('\n').filter((l) => l.startsWith('cunik: ')).at(-1) ?? err.trim().split('\n').at(-1) ?? `exit ${code}`;
        reject(new Error(line.replace(/^cunik: /, '')));
      });
    });
  const examples = listExamples(root);
  say(`--example: building ${examples.map((e) => e.name).join(', ')} from examples/ through the local cunikd (cunik build) and pushing each here as ${hub}/NAME:latest`);
  const done = (async () => {
    const pushed: string[] = [];
    const missing: { name: string; why: string }[] = [];
    for (const e of examples) {
      if (cancelled) break;
      const ref = `${hub}/${e.name}:latest`;
      try {
        if (e.needs !== undefined && !existsSync(e.needs)) throw new Error(`no ${e.needs} (npm run build makes it)`);
        await run(['build', '-q', '-t', e.name, '-f', e.cunikfile, e.context]);
        await run(['tag', e.name, ref]);
        try {
          await run(['push', ref]);
        } finally {
          await run(['rmi', ref]).catch(() => undefined);
        }
        pushed.push(e.name);
        say(`--example: pushed ${ref}`);
      } catch (err) {
        if (cancelled) break;
        const why = (err as Error).message;
        missing.push({ name: e.name, why });
        say(`--example: ${e.name} not pushed: ${why}`);
      }
    }
    if (!cancelled) {
      const gone = missing.length ? `; missing: ${missing.map((m) => m.name).join(', ')}` : '';
      say(`--example: ready: ${pushed.length} of ${examples.length} examples here (${pushed.join(', ') || 'none'})${gone}; try: cunik pull ${hub}/${pushed[0] ?? 'hello'}`);
    }
    return { pushed, missing };
  })();
  return {
    cancel() {
      cancelled = true;
      child?.kill('SIGTERM');
    },
    done,
  };
}
