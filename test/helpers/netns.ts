// One setup for everything that runs a daemon's bridge networking (issue 13): network namespaces
// made and deleted here, never the host's own. The daemon's namespace ("the host", lo up) and,
// if asked, a second one: `peer: 'veth'` makes it "another host" (or "the internet") behind a
// veth pair, ext0 198.51.100.1/24 here and ext1 198.51.100.2/24 there (TEST-NET-2, nothing leaves
// this machine), `peer: 'plain'` an empty one (a probe the test plugs in itself). The daemon runs
// inside with `ip netns exec`; `resolvConf` becomes /etc/netns/NS/resolv.conf, which `ip netns
// exec` mounts over /etc/resolv.conf for it. close() stops the daemon (and its VMs), deletes the
// namespaces and the resolv.conf; a harness killed by SIGTERM/SIGINT deletes them too.
// Used by test/integration/network-*.test.ts and bench/net-env.ts.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onExitSignal } from './cleanup.js';
import { cli, startDaemon, type CliResult, type TestDaemon } from './daemon.js';

export const HOST = '198.51.100.1';
export const PEER = '198.51.100.2';

export interface NetLabOptions {
  /** Part of the namespaces' names: cunik-TAG-PID and cunik-TAGp-PID. */
  tag: string;
  /** A second namespace: behind a veth pair to the daemon's, or empty. */
  peer?: 'veth' | 'plain';
  /** The daemon's default route via the peer (passt needs one; the peer forwards nothing beyond). */
  defaultRoute?: boolean;
  /** The daemon's /etc/resolv.conf. */
  resolvConf?: string;
}

export interface NetLab {
  /** The daemon's namespace. */
  ns: string;
  /** The second namespace ('' without one). */
  peer: string;
  /** The daemon running now (replaced by start/restart). */
  d: TestDaemon;
  /** Start the daemon in `ns` (again on the same root after a kill, live restore). */
  start(args?: string[]): Promise<TestDaemon>;
  /** SIGKILL the daemon and wait for its exit (its VMs run on). */
  kill(): Promise<void>;
  /** The CLI against the running daemon. */
  run(args: string[], input?: string): Promise<CliResult>;
  /** `ip ARGS` (give -n NS yourself). */
  ip(...args: string[]): string;
  /** A command inside a namespace; its stdout (throws on failure). */
  exec(netns: string, cmd: string, ...args: string[]): string;
  /** The same, asynchronous. */
  execAsync(netns: string, cmd: string, ...args: string[]): Promise<string>;
  /** Interface names in the daemon's namespace. */
  links(): string[];
  /** Cunik's taps there. */
  taps(): string[];
  close(): Promise<void>;
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

export async function netLab(opts: NetLabOptions): Promise<NetLab> {
  const ns = `cunik-${opts.tag}-${process.pid}`;
  const peer = opts.peer !== undefined ? `cunik-${opts.tag}p-${process.pid}` : '';
  const made = [ns, ...(peer !== '' ? [peer] : [])];
  const etcNetns = join('/etc/netns', ns);
  let daemon: TestDaemon | undefined;
  const removeAll = (): void => {
    for (const n of made) {
      try {
        ip('netns', 'del', n);
      } catch {
        // never made
      }
    }
    rmSync(etcNetns, { recursive: true, force: true });
  };
  const offSignal = onExitSignal(removeAll); // the daemon registers its own kill first
  const lab: NetLab = {
    ns,
    peer,
    get d(): TestDaemon {
      if (daemon === undefined) throw new Error(`no daemon started in ${ns}`);
      return daemon;
    },
    set d(v: TestDaemon) {
      daemon = v;
    },
    start: async (args) => (daemon = await startDaemon({ netns: ns, ...(daemon !== undefined && { dir: daemon.dir }), ...(args !== undefined && { args }) })),
    kill: async () => {
      const p = lab.d.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
    run: (args, input) => cli(args, { socket: lab.d.socket, ...(input !== undefined && { input }) }),
    ip,
    exec: (netns, cmd, ...args) => execFileSync('ip', ['netns', 'exec', netns, cmd, ...args], { encoding: 'utf8' }),
    execAsync: async (netns, cmd, ...args) => (await promisify(execFile)('ip', ['netns', 'exec', netns, cmd, ...args], { encoding: 'utf8' })).stdout,
    links: () => (JSON.parse(ip('-n', ns, '-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname),
    taps: () => lab.links().filter((l) => l.startsWith('cunikt')),
    close: async () => {
      await daemon?.stop();
      removeAll();
      offSignal();
    },
  };
  try {
    for (const n of made) {
      ip('netns', 'add', n);
      ip('-n', n, 'link', 'set', 'lo', 'up');
    }
    if (opts.peer === 'veth') {
      ip('-n', ns, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext1', 'netns', peer);
      ip('-n', ns, 'addr', 'add', `${HOST}/24`, 'dev', 'ext0');
      ip('-n', peer, 'addr', 'add', `${PEER}/24`, 'dev', 'ext1');
      ip('-n', ns, 'link', 'set', 'ext0', 'up');
      ip('-n', peer, 'link', 'set', 'ext1', 'up');
      if (opts.defaultRoute === true) ip('-n', ns, 'route', 'add', 'default', 'via', PEER, 'dev', 'ext0');
    }
    if (opts.resolvConf !== undefined) {
      mkdirSync(etcNetns, { recursive: true });
      writeFileSync(join(etcNetns, 'resolv.conf'), opts.resolvConf);
    }
  } catch (err) {
    removeAll();
    offSignal();
    throw err;
  }
  return lab;
}

/**
 * Plug the lab's second namespace into a bridge of the daemon's with address .250 of the
 * gateway's /24 (the IPAM hands out the low ones first), on a veth pair named pqTAG/prTAG: where
 * a test asks a network's DNS responder from, as a guest would. Not from the daemon's namespace
 * itself: traffic from a subnet's address to a local one leaves through lo and is masqueraded.
 */
export function plugProbe(lab: NetLab, bridge: string, gateway: string, tag: string): void {
  const addr = `${gateway.split('.').slice(0, 3).join('.')}.250/24`;
  ip('-n', lab.ns, 'link', 'add', `pq${tag}`, 'type', 'veth', 'peer', 'name', `pr${tag}`, 'netns', lab.peer);
  ip('-n', lab.ns, 'link', 'set', `pq${tag}`, 'master', bridge, 'up');
  ip('-n', lab.peer, 'addr', 'add', addr, 'dev', `pr${tag}`);
  ip('-n', lab.peer, 'link', 'set', `pr${tag}`, 'up');
}

/** Ask the DNS server at `server` from the lab's second namespace with dig: the status and the answers' data. */
export function dig(lab: NetLab, server: string, name: string, type = 'A'): { status: string; answers: string[] } {
  const out = lab.exec(lab.peer, 'dig', `@${server}`, '+tries=2', '+time=3', '-q', name, '-t', type); // -q: a name such as `a` is not a type
  const status = /status: (\w+)/.exec(out)?.[1] ?? 'none';
  const answers = out.split('\n').filter((l) => l.length > 0 && !l.startsWith(';')).map((l) => l.split(/\s+/).at(-1)!);
  return { status, answers };
}
