// cunik-runc: runc's command line, as containerd's runc shim (io.containerd.runc.v2, BinaryName)
// drives it. Unikernel bundles run as VMs (create.ts, lifecycle.ts); everything else, and every
// id this runtime did not create, goes to the real runc with the same argv. docs/kubernetes.md.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VERSION } from '../config/defaults.js';
import { CunikError } from '../errors.js';
import { bundleBootInfo, parseRuntimeSpec } from './bundle.js';
import { createContainer } from './create.js';
import { kill, parseSignal, pause, ps, remove, start, state } from './lifecycle.js';
import { runtimeLog, type RuntimeLog } from './log.js';
import { loadRecord } from './state.js';

/** Where Debian's containerd finds runc; CUNIK_RUNC overrides. */
export const REAL_RUNC = '/usr/sbin/runc';
const DEFAULT_ROOT = '/run/cunik-runc';

/** Global flags that take a value (runc's). */
const GLOBAL_VALUE = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);
/** Per-command flags that take a value (runc's create/run/exec/kill/delete/ps/...). */
const VALUE_FLAGS = new Set(['--bundle', '-b', '--pid-file', '--console-socket', '--preserve-fds', '--format', '-f', '--process', '-p', '--cwd', '--env', '-e', '--user', '-u', '--image-path', '--work-path', '--parent-path', '--page-server', '--manage-cgroups-mode', '--empty-ns', '--status-code', '--interval', '--pidfd-socket']);

export interface Invocation {
  global: Record<string, string | true>;
  command: string | undefined;
  flags: Record<string, string | true>;
  positional: string[];
}

/** runc's argv: global flags, a command, its flags and operands ("--flag=value" or "--flag value"). Pure. */
export function parseInvocation(argv: string[]): Invocation {
  const inv: Invocation = { global: {}, command: undefined, flags: {}, positional: [] };
  let i = 0;
  const take = (into: Record<string, string | true>, values: Set<string>): void => {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) into[a.slice(0, eq)] = a.slice(eq + 1);
    else if (values.has(a) && i + 1 < argv.length) into[a] = argv[++i]!;
    else into[a] = true;
  };
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) take(inv.global, GLOBAL_VALUE);
  inv.command = argv[i++];
  for (; i < argv.length; i++) {
    if (argv[i] === '--') {
      inv.positional.push(...argv.slice(i + 1));
      break;
    }
    if (argv[i]!.startsWith('-') && argv[i] !== '-') take(inv.flags, VALUE_FLAGS);
    else inv.positional.push(argv[i]!);
  }
  return inv;
}

const str = (v: string | true | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** The real runc with this argv unchanged, its stdio and the fds --preserve-fds names; resolves with its status. */
function handOff(argv: string[], inv: Invocation): Promise<number> {
  const runc = process.env['CUNIK_RUNC'] ?? REAL_RUNC;
  const extra = Number(str(inv.flags['--preserve-fds']) ?? 0);
  const stdio = Array.from({ length: 3 + (Number.isInteger(extra) && extra > 0 ? extra : 0) }, (_, n) => n);
  return new Promise((res) => {
    const child = spawn(runc, argv, { stdio });
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
    child.once('error', (err) => {
      process.stderr.write(`cunik-runc: cannot run ${runc}: ${err.message}\n`);
      res(127);
    });
    child.once('exit', (code, signal) => res(code ?? 128 + (signal !== null ? 1 : 0)));
  });
}

function bundleOf(inv: Invocation): string {
  return resolve(str(inv.flags['--bundle']) ?? str(inv.flags['-b']) ?? '.');
}

async function dispatch(argv: string[], inv: Invocation, log: RuntimeLog): Promise<number> {
  const root = str(inv.global['--root']) ?? DEFAULT_ROOT;
  const id = inv.positional[0];
  const ours = id !== undefined && loadRecord(root, id) !== undefined;
  switch (inv.command) {
    case undefined:
      if (inv.global['--version'] === undefined && inv.global['-v'] === undefined) throw new CunikError('INVALID_ARGUMENT', 'a command is required (create, start, state, kill, delete, ps, features)');
      process.stdout.write(`cunik-runc version ${VERSION}\n`);
      return 0;
    case 'create':
    case 'run': {
      const bundle = bundleOf(inv);
      const configPath = join(bundle, 'config.json');
      if (!existsSync(configPath)) return handOff(argv, inv);
      const spec = parseRuntimeSpec(readFileSync(configPath, 'utf8'), bundle);
      const boot = existsSync(spec.rootfs) ? bundleBootInfo(spec, `bundle ${bundle}`) : undefined;
      if (boot === undefined) {
        log('info', `bundle ${bundle} is not a unikernel (no cunik/boot.json nor urunc markers): handed to ${process.env['CUNIK_RUNC'] ?? REAL_RUNC}`);
        return handOff(argv, inv);
      }
      log('info', `bundle ${bundle}: a ${boot.family} unikernel, booted as a VM`);
      await createContainer({ root, id: id ?? '', bundle, pidFile: str(inv.flags['--pid-file']), consoleSocket: str(inv.flags['--console-socket']), spec, boot, systemdCgroup: inv.global['--systemd-cgroup'] === true, log });
      if (inv.command === 'run') await start(root, id!);
      return 0;
    }
    case 'features':
      return handOff(argv, inv);
  }
  if (!ours) return handOff(argv, inv);
  switch (inv.command) {
    case 'start':
      await start(root, id!);
      return 0;
    case 'state':
      process.stdout.write(JSON.stringify(state(root, id!), null, 2) + '\n');
      return 0;
    case 'kill':
      kill(root, id!, parseSignal(inv.positional[1]), inv.flags['--all'] === true || inv.flags['-a'] === true);
      return 0;
    case 'delete':
      await remove(root, id!, inv.flags['--force'] === true || inv.flags['-f'] === true);
      return 0;
    case 'ps': {
      const pids = ps(root, id!);
      const format = str(inv.flags['--format']) ?? str(inv.flags['-f']);
      process.stdout.write(format === 'json' ? JSON.stringify(pids) + '\n' : `PID\n${pids.join('\n')}\n`);
      return 0;
    }
    case 'pause':
    case 'resume':
      await pause(root, id!, inv.command === 'pause');
      return 0;
    case 'update':
      log('warning', `update of ${id}: a VM's resources are fixed at create; ignored`);
      return 0;
    default:
      throw new CunikError('INVALID_ARGUMENT', `${inv.command} is not supported for a unikernel container (${id})`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const inv = parseInvocation(argv);
  const log = runtimeLog(str(inv.global['--log']), str(inv.global['--log-format']) ?? 'text');
  const t0 = performance.now();
  try {
    return await dispatch(argv, inv, log);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log('error', msg);
    if (str(inv.global['--log']) !== undefined) process.stderr.write(`cunik-runc: ${msg}\n`);
    return err instanceof CunikError && err.code === 'INVALID_ARGUMENT' ? 125 : 1;
  } finally {
    if (process.env['CUNIK_RUNC_TRACE'] !== undefined) log('debug', `${inv.command ?? ''} ${inv.positional[0] ?? ''}: ${Math.round(performance.now() - t0)} ms in main, ${Math.round(performance.now())} ms since node started`);
  }
}
