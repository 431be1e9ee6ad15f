// Debian's containerd started by a test with its own root, state dir, sockets and config (a temp
// dir), and ctr pointed at it in a namespace of the test's own, so runc's state for the test
// (/run/containerd/runc/<namespace>) is the test's too. Only the CRI plugin is off (no kubelet here).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onExitSignal } from './cleanup.js';
import { waitFor } from './daemon.js';

export interface TestContainerd {
  dir: string;
  socket: string;
  namespace: string;
  /** runc's --root for this namespace (where cunik-runc keeps its own containers under cunik/). */
  runcRoot: string;
  proc: ChildProcess;
  log: () => string;
  ctr(args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** `extra`: more TOML (a [plugins...] block); `cri`: keep the CRI plugin (it then waits for a kubelet that never comes). */
export function containerdConfig(dir: string, extra = '', cri = false): string {
  return [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    ...(cri ? [] : ['disabled_plugins = ["io.containerd.grpc.v1.cri"]']),
    '[grpc]',
    `  address = "${join(dir, 'containerd.sock')}"`,
    '[ttrpc]',
    `  address = "${join(dir, 'containerd.sock.ttrpc')}"`,
    '[debug]',
    `  address = "${join(dir, 'debug.sock')}"`,
    '  level = "info"',
    '[metrics]',
    '  address = ""',
    extra,
  ].join('\n') + '\n';
}

export async function startContainerd(dir: string, env: NodeJS.ProcessEnv = {}, opts: { extra?: string; cri?: boolean } = {}): Promise<TestContainerd> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'config.toml');
  writeFileSync(config, containerdConfig(dir, opts.extra, opts.cri));
  const socket = join(dir, 'containerd.sock');
  const namespace = `cunik-test-${process.pid}`;
  const proc = spawn('containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const off = onExitSignal(() => proc.kill('SIGKILL'));
  await waitFor(`containerd serving (log: ${log.slice(-500)})`, () => log.includes('containerd successfully booted') || (proc.exitCode !== null ? Promise.reject(new Error(`containerd exited: ${log.slice(-800)}`)) : undefined), 30_000);
  const ctr = (args: string[], opts: { timeoutMs?: number; input?: string } = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const p = spawn('ctr', ['-a', socket, '-n', namespace, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.stdin.on('error', () => undefined); // ctr may be gone before its (empty) stdin is written
      p.stdin.end(opts.input ?? '');
      // Never a hang: a ctr still running at the bound is killed and reported as such.
      const timer = setTimeout(() => {
        stderr += `\n(ctr ${args.join(' ')} still running after ${opts.timeoutMs ?? 120_000} ms: killed)`;
        p.kill('SIGKILL');
      }, opts.timeoutMs ?? 120_000);
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  const runcRoot = `/run/containerd/runc/${namespace}`;
  return {
    dir,
    socket,
    namespace,
    runcRoot,
    proc,
    log: () => log,
    ctr,
    async stop() {
      // Tasks first (their shims outlive containerd otherwise), then containerd itself.
      const tasks = await ctr(['task', 'ls', '-q']);
      for (const id of tasks.stdout.split('\n').filter((l) => l !== '')) {
        await ctr(['task', 'kill', '-s', 'SIGKILL', id]);
        await ctr(['task', 'delete', '-f', id]);
      }
      const cs = await ctr(['container', 'ls', '-q']);
      for (const id of cs.stdout.split('\n').filter((l) => l !== '')) await ctr(['container', 'rm', id]);
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r(undefined) : proc.once('exit', r)));
      off();
      // containerd's own mounts of this root (snapshots) are gone with its tasks; then the files.
      spawnSync('umount', ['-R', join(dir, 'root')], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
      rmSync(runcRoot, { recursive: true, force: true });
      // ctr's cgroups are /<namespace>/<id>: the tasks' are gone with them, the namespace's is left (runc leaves it too).
      for (const base of ['/sys/fs/cgroup', ...(existsSync('/sys/fs/cgroup/cgroup.controllers') ? [] : readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h)))]) {
        try {
          rmdirSync(join(base, namespace));
        } catch {
          /* not there, or not a v1 hierarchy */
        }
      }
    },
  };
}
