// Test harness: a real cunikd on a private root and socket, and the real CLI binary pointed at it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { CunikClient } from '../../src/client/index.js';
import { DAEMON_NODE_FLAGS, installRoot } from '../../src/config/defaults.js';
import { onExitSignal } from './cleanup.js';

export const repo = installRoot();
export const kernels = join(repo, 'build', 'kernels');
export const helloKernel = join(kernels, 'hello.elf');
export const cunikBin = join(repo, 'bin', 'cunik');
const cunikdBin = join(repo, 'bin', 'cunikd.js');

export interface TestDaemon {
  dir: string;
  root: string;
  socket: string;
  client: CunikClient;
  proc: ChildProcess;
  stderr: () => string;
  /** Stop the daemon and its VMs; `keepFiles` leaves the root for a restarted daemon. */
  stop(opts?: { keepFiles?: boolean }): Promise<void>;
}

/**
 * `netns`: run the daemon (and so its VMs and their passt) inside that network namespace. Outside
 * one, the daemon's default network is `user` unless `args` choose: a root daemon's default
 * (`bridge`) would put a bridge and a private address on the host's own namespace.
 */
export async function startDaemon(opts: { args?: string[]; dir?: string; netns?: string; env?: NodeJS.ProcessEnv } = {}): Promise<TestDaemon> {
  const given = opts.args ?? ['--accel', 'tcg'];
  const extraArgs = opts.netns === undefined && !given.some((a) => a.startsWith('--default-network')) ? [...given, '--default-network', 'user'] : given;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'cunik-test-')));
  const root = join(dir, 'root');
  const socket = join(dir, 'cunik.sock');
  const argv = [process.execPath, ...DAEMON_NODE_FLAGS, cunikdBin, '--root', root, '--host', socket, ...extraArgs];
  const command = opts.netns !== undefined ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv;
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], ...(opts.env && { env: { ...process.env, ...opts.env } }) });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // Killed harness (SIGTERM/SIGINT): its VMs and this daemon go with it (stop() is never reached).
  const offSignal = onExitSignal(() => {
    proc.kill('SIGKILL');
    killUnder(root);
  });
  const client = new CunikClient(socket);
  // Generous: loading the daemon takes about 2 s of CPU, much longer on a machine busy with guests.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.ping();
      break;
    } catch (e) {
      if (Date.now() > deadline || proc.exitCode !== null) {
        // A daemon left starting would outlive the test and keep its file from ever ending.
        offSignal();
        proc.kill('SIGKILL');
        throw new Error(`daemon did not start: ${err || String(e)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return {
    dir,
    root,
    socket,
    client,
    proc,
    stderr: () => err,
    async stop(stopOpts) {
      offSignal();
      client.close();
      const killed = stopOpts?.keepFiles ? [] : killInstances(root);
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await gone;
      }
      if (!stopOpts?.keepFiles) {
        await waitGone(killed);
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * SIGKILL every QEMU whose pidfile is under this root, so no test leaves a VM behind. Returns the
 * pids to wait for: each QEMU and its cunik-shim parent, which writes the exit file into the
 * instance's directory once QEMU is gone (so the root cannot be removed before that).
 */
export function killInstances(root: string): number[] {
  const pids: number[] = [];
  // Instances set aside by the daemon (a damaged record) keep their VM running: theirs too.
  const dirs = [join(root, 'instances'), join(root, 'quarantine', 'instances')].filter((d) => existsSync(d));
  for (const dir of dirs) {
    for (const id of readdirSync(dir)) {
      const pidfile = join(dir, id, 'qemu.pid');
      if (!existsSync(pidfile)) continue;
      const pid = Number(readFileSync(pidfile, 'utf8').trim());
      try {
        if (!pid || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(root, 'instances'))) continue;
        // /proc/PID/stat: "pid (comm) state ppid ...", comm may hold spaces.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        process.kill(pid, 'SIGKILL');
        pids.push(pid);
        if (ppid > 1 && readFileSync(`/proc/${ppid}/cmdline`, 'utf8').includes('cunik-shim')) pids.push(ppid);
      } catch {
        // already gone
      }
    }
  }
  return pids;
}

/**
 * SIGKILL every process whose command line names a path under `root` (the daemon's VMs and their
 * shims), whether or not QEMU has written its pidfile yet: for a harness killed mid-start.
 */
export function killUnder(root: string): void {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(prefix)) process.kill(Number(name), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Resolves once none of `pids` exists any more (zombies count as gone), or after `timeoutMs`. */
export async function waitGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  const alive = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What `interact` gets: the CLI's stdin, and its output so far. */
export interface CliSession {
  stdin: Writable;
  stdout: () => string;
  /** Resolves once the output so far matches. */
  output: (re: RegExp, timeoutMs?: number) => Promise<void>;
}

export interface CliOptions {
  socket?: string;
  env?: NodeJS.ProcessEnv;
  /** All of stdin, written at once. */
  input?: string;
  /** Instead of `input`: write to stdin as the output comes; stdin is ended when it resolves (unless `keepStdin`). */
  interact?: (session: CliSession) => Promise<void>;
  keepStdin?: boolean;
}

/** Run the real `cunik` binary as a user would type it. */
export function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const argv = opts.socket ? ['-H', `unix://${opts.socket}`, ...args] : args;
  return new Promise((resolve, reject) => {
    const p = spawn(cunikBin, argv, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.on('error', () => undefined); // the CLI may be gone before all input is written
    if (opts.interact) {
      const output = (re: RegExp, timeoutMs = 15_000): Promise<void> =>
        waitFor(`${re} in the output of cunik ${args.join(' ')} (so far: ${JSON.stringify(stdout.slice(-300))})`, () => re.test(stdout) || undefined, timeoutMs).then(() => undefined);
      opts.interact({ stdin: p.stdin, stdout: () => stdout, output }).then(
        () => void (opts.keepStdin || p.stdin.end()),
        (err: unknown) => {
          p.kill('SIGKILL');
          reject(err as Error);
        },
      );
    } else {
      p.stdin.end(opts.input ?? '');
    }
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * Resolves once the daemon is making no VM template (vmm/qemu/template.ts): each folder under
 * ROOT/templates has its holder.pid, or the daemon said it could not be made. The instance that
 * finds no template boots whole while one is made beside it; those started after this clone it.
 */
export async function templatesMade(d: TestDaemon, timeoutMs = 240_000): Promise<void> {
  const dir = join(d.root, 'templates');
  await waitFor('the VM templates being made', () => {
    const names = existsSync(dir) ? readdirSync(dir) : [];
    return names.every((n) => existsSync(join(dir, n, 'holder.pid')) || d.stderr().includes(`VM template ${n}: `)) || undefined;
  }, timeoutMs);
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
