// What the bridge networking benchmarks (net-churn.ts, net-throughput.ts, net-start.ts; issue 13) share: all run inside two network namespaces made here: the
// daemon's ("the host", 198.51.100.1) and a peer ("another host", 198.51.100.2) behind a veth pair.
// The guest is the httpd example (examples/httpd: busybox httpd, which forks a child per connection)
// with a 10 MiB file added, built with `cunik build`; net-throughput adds the lighttpd example
// (examples/lighttpd: event-driven, no fork per request, keeps connections alive) with the same file.
// - net-churn: CYCLES `run -d -p 80 --network bench` + `rm -f` cycles, 4 in parallel: cycles/s;
//   taps, address files, port files, nft rules of table inet cunik, listening sockets and passt
//   processes in the namespace counted before and after: `leaks` is how many differ (must be 0).
// - net-throughput: sequential HTTP GETs of the index page for 3 s (req/s) and one 10 MiB download
//   (MB/s), to the same running guest through DNAT (from the peer to 198.51.100.1:PORT), through
//   127.0.0.1:PORT (hairpin DNAT, from the host), and to its bridge address (from the host), and to a
//   user-mode guest through its published 127.0.0.1 port (passt); ABBA rounds, medians. Ratios:
//   dnat and loopback over direct, bridge (direct) over user. The same four paths again to the
//   lighttpd guest (keys ending _lighttpd), and with HTTP keep-alive (one connection reused, keys
//   ending _lighttpd_keepalive), all sides of one ABBA run: under TCG busybox httpd's fork per
//   connection is the limit on every path, lighttpd shows what the network path itself costs.
// - net-start: `run -d` to the first answered request on 127.0.0.1:PORT, bridge network vs user
//   mode, same image; ratio = bridge / user.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repo, type TestDaemon } from '../test/helpers/daemon.js';
import { HOST, netLab, type NetLab } from '../test/helpers/netns.js';

export { HOST };
const exec = promisify(execFile);

export interface Env {
  d: TestDaemon;
  ns: string;
  peer: string;
  ctx: string;
  run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

const ipc = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

/** The namespaces and the daemon: test/helpers/netns.ts, as the network tests make them. */
export async function setup(name: string, opts: { lighttpd?: boolean } = {}): Promise<Env> {
  const ctx = mkdtempSync(join(tmpdir(), `cunik-${name}-`));
  let lab: NetLab | undefined;
  const close = async (): Promise<void> => {
    await lab?.close();
    rmSync(ctx, { recursive: true, force: true });
  };
  try {
    // passt (user mode) needs a default route to start; the peer is it (nothing is forwarded beyond).
    lab = await netLab({ tag: 'bn', peer: 'veth', defaultRoute: true });
    cpSync(join(repo, 'examples', 'httpd'), join(ctx, 'httpd'), { recursive: true });
    writeFileSync(join(ctx, 'httpd', 'www', 'big'), Buffer.alloc(10 * 1024 * 1024, 'x'));
    const d = await lab.start();
    const l = lab;
    const run = (args: string[]) => l.run(args);
    const b = await run(['build', '-q', '-t', 'nethttpd', join(ctx, 'httpd')]);
    if (b.code !== 0) throw new Error(`${name}: cunik build failed: ${b.stderr}`);
    if (opts.lighttpd) {
      cpSync(join(repo, 'examples', 'lighttpd'), join(ctx, 'lighttpd'), { recursive: true });
      writeFileSync(join(ctx, 'lighttpd', 'www', 'big'), Buffer.alloc(10 * 1024 * 1024, 'x'));
      const bl = await run(['build', '-q', '-t', 'netlighttpd', join(ctx, 'lighttpd')]);
      if (bl.code !== 0) throw new Error(`${name}: cunik build (lighttpd) failed: ${bl.stderr}`);
    }
    const n = await run(['network', 'create', '--subnet', '10.214.77.0/24', 'bench']);
    if (n.code !== 0) throw new Error(`${name}: network create failed: ${n.stderr}`);
    return { d, ns: l.ns, peer: l.peer, ctx, run, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A client in a namespace: `mode` get (sequential GETs for `ms`, a new connection each: req/s),
 * keep (the same over one kept-alive connection: req/s; fails unless the server kept it open, at
 * most one new connection per 100 requests), big (one download: MB/s), or first (retry until an
 * answer: ms).
 */
export async function client(netns: string, url: string, mode: 'get' | 'keep' | 'big' | 'first', ms = 3000): Promise<number> {
  const js = `
const http = require('node:http');
const agent = ${JSON.stringify(mode)} === 'keep' ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
let conns = 0;
const get = (u) => new Promise((res, rej) => { const r = http.get(u, { agent, timeout: 5000 }, (s) => { let n = 0; s.on('data', (c) => (n += c.length)); s.on('end', () => res(n)); s.on('error', rej); }); r.on('error', rej); r.on('timeout', () => r.destroy(new Error('timeout'))); r.on('socket', (so) => { if (!so.seen) { so.seen = true; conns++; } }); });
(async () => {
  const t0 = performance.now();
  if (${JSON.stringify(mode)} === 'first') { for (;;) { try { await get(${JSON.stringify(url)}); break; } catch { if (performance.now() - t0 > 300000) process.exit(1); await new Promise((r) => setTimeout(r, 20)); } } console.log(performance.now() - t0); return; }
  if (${JSON.stringify(mode)} === 'big') { const n = await get(${JSON.stringify(url)}); if (n !== 10485760) process.exit(1); console.log(n / 1e6 / ((performance.now() - t0) / 1000)); return; }
  let k = 0; while (performance.now() - t0 < ${ms}) { await get(${JSON.stringify(url)}); k++; }
  const rate = k / ((performance.now() - t0) / 1000);
  if (${JSON.stringify(mode)} === 'keep' && conns > 1 + k / 100) { console.error('keep-alive not kept: ' + conns + ' connections for ' + k + ' requests'); process.exit(1); }
  console.log(rate);
})().catch((e) => { console.error(String(e)); process.exit(1); });`;
  const r = await exec('ip', ['netns', 'exec', netns, process.execPath, '-e', js], { encoding: 'utf8', timeout: 400_000 });
  return Number(r.stdout.trim());
}

export const hostPortOf = async (env: Env, name: string): Promise<number> => {
  const out = (await env.run(['port', name, '80'])).stdout.trim();
  const port = Number(out.split(':').at(-1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no published port for ${name}: ${out}`);
  return port;
};

/** What must be back where it started after churn. */
export function counts(env: Env): Record<string, number> {
  const links = (JSON.parse(ipc('-n', env.ns, '-j', 'link', 'show')) as { ifname: string }[]).filter((l) => l.ifname.startsWith('cunikt')).length;
  const files = (dir: string): number => (existsSync(dir) ? readdirSync(dir).length : 0);
  const ipamDir = join(env.d.root, 'networks', 'ipam');
  const addresses = existsSync(ipamDir) ? readdirSync(ipamDir).reduce((n, net) => n + readdirSync(join(ipamDir, net)).length, 0) : 0;
  const rules = (execFileSync('ip', ['netns', 'exec', env.ns, 'nft', 'list', 'table', 'inet', 'cunik'], { encoding: 'utf8' }).match(/\n\t\t(?!type )\S/g) ?? []).length;
  const listeners = execFileSync('ip', ['netns', 'exec', env.ns, 'ss', '-Hltun'], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
  // passt processes in the namespace (user mode): none are expected on a bridge network, and none may be left.
  const inode = `net:[${statSync(`/run/netns/${env.ns}`).ino}]`;
  const passt = readdirSync('/proc').filter((p) => {
    try {
      return /^\d+$/.test(p) && readlinkSync(`/proc/${p}/ns/net`) === inode && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'passt';
    } catch {
      return false; // gone meanwhile
    }
  }).length;
  return { taps: links, addresses, portFiles: files(join(env.d.root, 'networks', 'ports')), nftRules: rules, listeners, passt };
}

