// The daemon's side of cunik-spawner (src/vmm/shim/cunik-spawner.c): one long-lived helper process
// that starts processes on the daemon's behalf, so that the daemon never forks itself. A fork of a
// Node process copies its page tables (more the bigger its heap) and blocks its event loop meanwhile;
// the helper is a few hundred KiB and uses posix_spawn. Processes it starts get their own session and
// outlive both the helper and the daemon. If the helper dies while the daemon runs, the processes it
// started are reported through `lost` (their exit status is then no longer ours to read) and the
// next spawn starts a new helper.

import { spawn as spawnChild, type ChildProcessByStdio } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { signalName } from '../util/signals.js';

export interface SpawnedExit {
  /** Exit code, or null if a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Spawned {
  pid: number;
  /**
   * Resolves with how the process ended, or with 'lost' if the spawner died first (the process
   * may still be running, now a child of init).
   */
  exited: Promise<SpawnedExit | 'lost'>;
}

export interface SpawnOptions {
  /** Append the process's stderr to this file (created if missing); default /dev/null. */
  stderrFile?: string | undefined;
  /**
   * Give the process the reply pipe as fd 3, where it may write its own "exit PID CODE SIG" line
   * before it ends (cunik-shim --notify-fd 3 reports its VM's end this way). The first line for a
   * pid wins; the spawner's own 'reap' line comes later and is then ignored.
   */
  notifyFd?: boolean;
}

/** A spawn the helper refused: errno is posix_spawn's (or open's for stderrFile). */
export class SpawnError extends Error {
  constructor(
    readonly errno: number,
    readonly code: string,
    program: string,
  ) {
    super(`cannot start ${program}: ${code}`);
    this.name = 'SpawnError';
  }
}

interface Pending {
  program: string;
  resolve: (s: Spawned) => void;
  reject: (e: Error) => void;
}

const signalOf = (n: number): NodeJS.Signals => signalName(n) ?? 'SIGKILL';
const errnoName = (n: number): string => Object.entries(osConstants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;

export class Spawner {
  private proc: ChildProcessByStdio<Writable, Readable, null> | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly watched = new Map<number, (e: SpawnedExit | 'lost') => void>();
  /** 'exit' lines that came before their 'ok' (until then, or until the 'reap'). */
  private readonly early = new Map<number, SpawnedExit>();
  private nextTag = 1;
  private partial = '';

  /** @param binary path of cunik-spawner */
  constructor(private readonly binary: string) {}

  /** The helper's pid while it runs (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Start argv (argv[0] is the program's path) in its own session; resolves once it runs. */
  spawn(argv: string[], opts: SpawnOptions = {}): Promise<Spawned> {
    if (argv.length === 0 || argv.some((a) => a.includes('\0'))) return Promise.reject(new Error('spawner: bad argv'));
    const proc = this.ensure();
    const tag = String(this.nextTag++);
    const payload = Buffer.from([tag, opts.stderrFile ?? '', opts.notifyFd ? 'n' : '', argv[0]!, ...argv].map((s) => `${s}\0`).join(''));
    const header = Buffer.alloc(4);
    header.writeUInt32LE(payload.length);
    return new Promise<Spawned>((resolve, reject) => {
      this.pending.set(tag, { program: argv[0]!, resolve, reject });
      this.updateRef();
      proc.stdin.write(Buffer.concat([header, payload]));
    });
  }

  /** Stop the helper (the processes it started keep running and are reported lost). */
  close(): void {
    this.proc?.stdin.end();
  }

  private ensure(): ChildProcessByStdio<Writable, Readable, null> {
    if (this.proc) return this.proc;
    // Own session: a terminal's Ctrl-C to a foreground daemon does not reach it.
    const proc = spawnChild(this.binary, [], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    this.proc = proc;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      if (this.proc === proc) this.onData(chunk);
    });
    proc.stdin.on('error', () => {
      /* EPIPE: the helper died; 'exit' handles it */
    });
    proc.on('error', (err) => this.onGone(proc, err));
    proc.on('exit', () => this.onGone(proc, new Error('cunik-spawner exited')));
    this.updateRef();
    return proc;
  }

  private onData(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, a, b, c] = line.split(' ');
      if (kind === 'ok' || kind === 'err') {
        const p = this.pending.get(a!);
        if (!p) continue;
        this.pending.delete(a!);
        if (kind === 'err') p.reject(new SpawnError(Number(b), errnoName(Number(b)), p.program));
        else {
          const pid = Number(b);
          const early = this.early.get(pid);
          this.early.delete(pid);
          p.resolve({ pid, exited: early ? Promise.resolve(early) : new Promise((resolve) => this.watched.set(pid, resolve)) });
        }
      } else if (kind === 'exit' || kind === 'reap') {
        // 'exit': the process's own report (notifyFd), which may come before its 'ok';
        // 'reap': the spawner's, always after the 'ok' and after any 'exit' of the same pid.
        const pid = Number(a);
        const sig = Number(c);
        const how: SpawnedExit = sig ? { code: null, signal: signalOf(sig) } : { code: Number(b), signal: null };
        const done = this.watched.get(pid);
        if (kind === 'reap') this.early.delete(pid);
        if (done) {
          this.watched.delete(pid);
          done(how);
        } else if (kind === 'exit') this.early.set(pid, how);
      }
    }
    this.updateRef();
  }

  private onGone(proc: ChildProcessByStdio<Writable, Readable, null>, err: Error): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    // Processes it started may still hold the pipe: close the daemon's end.
    proc.stdout.destroy();
    this.partial = '';
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const done of this.watched.values()) done('lost');
    this.watched.clear();
    this.early.clear();
  }

  /**
   * Keep the event loop alive only while a spawn is pending: like a detached child that was
   * unref()ed, a running process does not keep its parent alive.
   */
  private updateRef(): void {
    const proc = this.proc;
    if (!proc) return;
    const busy = this.pending.size > 0;
    for (const h of [proc, proc.stdout, proc.stdin] as unknown as { ref?: () => void; unref?: () => void }[]) {
      if (busy) h.ref?.();
      else h.unref?.();
    }
  }
}
