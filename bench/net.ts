// Bridge networking benchmarks (issue 13), all inside two network namespaces made here: the
// daemon's ("the host", 198.51.100.1) and a peer ("another host", 198.51.100.2) behind a veth pair.
// The guest is the httpd example (examples/httpd) with a 10 MiB file added, built with `cunik build`.
// - net-churn: CYCLES `run -d -p 80 --network bench` + `rm -f` cycles, 4 in parallel: cycles/s;
//   taps, address files, port files, nft rules of table inet cunik, listening sockets and passt
//   processes in the namespace counted before and after: `leaks` is how many differ (must be 0).
// - net-throughput: sequential HTTP GETs of the index page for 3 s (req/s) and one 10 MiB download
//   (MB/s), to the same running guest through DNAT (from the peer to 198.51.100.1:PORT), through
//   127.0.0.1:PORT (hairpin DNAT, from the host), and to its bridge address (from the host), and to a
//   user-mode guest through its published 127.0.0.1 port (passt); ABBA rounds, medians. Ratios:
//   dnat and loopback over direct, bridge (direct) over user.
// - net-start: `run -d` to the first answered request on 127.0.0.1:PORT, bridge network vs user
//   mode, same image; ratio = bridge / user.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cli, repo, startDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { abba, header, median, now, round } from './harness.js';

const HOST = '198.51.100.1';
const exec = promisify(execFile);

interface Env {
  d: TestDaemon;
  ns: string;
  peer: string;
  ctx: string;
  run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

const ipc = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

async function setup(name: string): Promise<Env> {
  const ns = `cunik-bn-${process.pid}`;
  const peer = `cunik-bp-${process.pid}`;
  ipc('netns', 'add', ns);
  ipc('netns', 'add', peer);
  const ctx = mkdtempSync(join(tmpdir(), `cunik-${name}-`));
  let d: TestDaemon | undefined;
  const close = async (): Promise<void> => {
    await d?.stop();
    for (const n of [ns, peer]) {
      try {
        ipc('netns', 'del', n);
      } catch {
        // never made
      }
    }
    rmSync(ctx, { recursive: true, force: true });
  };
  try {
    ipc('-n', ns, 'link', 'set', 'lo', 'up');
    ipc('-n', peer, 'link', 'set', 'lo', 'up');
    ipc('-n', ns, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext1', 'netns', peer);
    ipc('-n', ns, 'addr', 'add', `${HOST}/24`, 'dev', 'ext0');
    ipc('-n', peer, 'addr', 'add', '198.51.100.2/24', 'dev', 'ext1');
    ipc('-n', ns, 'link', 'set', 'ext0', 'up');
    ipc('-n', peer, 'link', 'set', 'ext1', 'up');
    // passt (user mode) needs a default route to start; the peer is it (nothing is forwarded beyond).
    ipc('-n', ns, 'route', 'add', 'default', 'via', '198.51.100.2', 'dev', 'ext0');
    cpSync(join(repo, 'examples', 'httpd'), join(ctx, 'httpd'), { recursive: true });
    writeFileSync(join(ctx, 'httpd', 'www', 'big'), Buffer.alloc(10 * 1024 * 1024, 'x'));
    d = await startDaemon({ netns: ns });
    const dd = d;
    const run = (args: string[]) => cli(args, { socket: dd.socket });
    const b = await run(['build', '-q', '-t', 'nethttpd', join(ctx, 'httpd')]);
    if (b.code !== 0) throw new Error(`${name}: cunik build failed: ${b.stderr}`);
    const n = await run(['network', 'create', '--subnet', '10.214.77.0/24', 'bench']);
    if (n.code !== 0) throw new Error(`${name}: network create failed: ${n.stderr}`);
    return { d, ns, peer, ctx, run, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** A client in a namespace: `mode` get (sequential GETs for `ms`: req/s) or big (one download: MB/s), or first (retry until an answer: ms). */
async function client(netns: string, url: string, mode: 'get' | 'big' | 'first', ms = 3000): Promise<number> {
  const js = `
const http = require('node:http');
const get = (u) => new Promise((res, rej) => { const r = http.get(u, { agent: false, timeout: 5000 }, (s) => { let n = 0; s.on('data', (c) => (n += c.length)); s.on('end', () => res(n)); s.on('error', rej); }); r.on('error', rej); r.on('timeout', () => r.destroy(new Error('timeout'))); });
(async () => {
  const t0 = performance.now();
  if (${JSON.stringify(mode)} === 'first') { for (;;) { try { await get(${JSON.stringify(url)}); break; } catch { if (performance.now() - t0 > 300000) process.exit(1); await new Promise((r) => setTimeout(r, 20)); } } console.log(performance.now() - t0); return; }
  if (${JSON.stringify(mode)} === 'big') { const n = await get(${JSON.stringify(url)}); if (n !== 10485760) process.exit(1); console.log(n / 1e6 / ((performance.now() - t0) / 1000)); return; }
  let k = 0; while (performance.now() - t0 < ${ms}) { await get(${JSON.stringify(url)}); k++; } console.log(k / ((performance.now() - t0) / 1000));
})().catch((e) => { console.error(String(e)); process.exit(1); });`;
  const r = await exec('ip', ['netns', 'exec', netns, process.execPath, '-e', js], { encoding: 'utf8', timeout: 400_000 });
  return Number(r.stdout.trim());
}

const hostPortOf = async (env: Env, name: string): Promise<number> => {
  const out = (await env.run(['port', name, '80'])).stdout.trim();
  const port = Number(out.split(':').at(-1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no published port for ${name}: ${out}`);
  return port;
};

/** What must be back where it started after churn. */
function counts(env: Env): Record<string, number> {
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

export async function netChurn(cycles: number): Promise<Record<string, number>> {
  header('net-churn', { cycles, parallel: 4 });
  const env = await setup('net-churn');
  try {
    const before = counts(env);
    const t0 = now();
    let next = 0;
    const worker = async (w: number): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= cycles) return;
        const name = `churn${w}-${i}`;
        const r = await env.run(['run', '-d', '--name', name, '--network', 'bench', '-p', '80', 'nethttpd']);
        if (r.code !== 0) throw new Error(`net-churn: run failed: ${r.stderr}`);
        const rm = await env.run(['rm', '-f', name]);
        if (rm.code !== 0) throw new Error(`net-churn: rm failed: ${rm.stderr}`);
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    const seconds = (now() - t0) / 1000;
    // The exit's cleanup (tap, address, rules) runs as the VM's exit is seen: wait for it to settle.
    let after = counts(env);
    for (let i = 0; i < 100 && JSON.stringify(after) !== JSON.stringify(before); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = counts(env);
    }
    const leaks = Object.keys(before).filter((k) => before[k] !== after[k]).length;
    console.log(`# before ${JSON.stringify(before)}\n# after  ${JSON.stringify(after)}`);
    const out = { cycles_per_s: round(cycles / seconds, 3), leaks, ...Object.fromEntries(Object.entries(after).map(([k, v]) => [`${k}_after`, v])) };
    return out;
  } finally {
    await env.close();
  }
}

export async function netThroughput(rounds: number): Promise<Record<string, number>> {
  header('net-throughput', { rounds, get_s: 3, download_mib: 10 });
  const env = await setup('net-throughput');
  try {
    for (const [name, net] of [['tb', 'bench'], ['tu', 'user']] as const) {
      const r = await env.run(['run', '-d', '--name', name, '--network', net, '-p', '127.0.0.1::80', ...(net === 'bench' ? ['-p', '80'] : []), 'nethttpd']);
      if (r.code !== 0) throw new Error(`net-throughput: run failed: ${r.stderr}`);
    }
    const bridgeIp = (JSON.parse((await env.run(['inspect', 'tb'])).stdout) as [{ network: { ipAddress: string } }])[0].network.ipAddress;
    const ports = (await env.run(['port', 'tb', '80'])).stdout.trim().split('\n');
    const loPort = Number(ports.find((p) => p.startsWith('127.0.0.1:'))!.split(':')[1]);
    const allPort = Number(ports.find((p) => p.startsWith('0.0.0.0:'))!.split(':')[1]);
    const userPort = await hostPortOf(env, 'tu');
    const urls = { direct: [env.ns, `http://${bridgeIp}/`], dnat: [env.peer, `http://${HOST}:${allPort}/`], loopback: [env.ns, `http://127.0.0.1:${loPort}/`], user: [env.ns, `http://127.0.0.1:${userPort}/`] } as const;
    for (const [ns, url] of Object.values(urls)) await client(ns, url, 'first');
    const side = (k: keyof typeof urls, mode: 'get' | 'big') => () => client(urls[k][0], `${urls[k][1]}${mode === 'big' ? 'big' : ''}`, mode);
    const req = await abba(rounds, { direct: side('direct', 'get'), dnat: side('dnat', 'get'), loopback: side('loopback', 'get'), user: side('user', 'get') });
    const mbs = await abba(rounds, { direct: side('direct', 'big'), dnat: side('dnat', 'big'), loopback: side('loopback', 'big'), user: side('user', 'big') });
    const m = (o: Record<string, number[]>, k: string): number => median(o[k]!);
    return {
      direct_req_s: round(m(req, 'direct'), 1), dnat_req_s: round(m(req, 'dnat'), 1), loopback_req_s: round(m(req, 'loopback'), 1), user_req_s: round(m(req, 'user'), 1),
      direct_mb_s: round(m(mbs, 'direct'), 1), dnat_mb_s: round(m(mbs, 'dnat'), 1), loopback_mb_s: round(m(mbs, 'loopback'), 1), user_mb_s: round(m(mbs, 'user'), 1),
      dnat_ratio: round(m(req, 'dnat') / m(req, 'direct'), 3),
      loopback_ratio: round(m(req, 'loopback') / m(req, 'direct'), 3),
      dnat_mb_ratio: round(m(mbs, 'dnat') / m(mbs, 'direct'), 3),
      loopback_mb_ratio: round(m(mbs, 'loopback') / m(mbs, 'direct'), 3),
      bridge_vs_user: round(m(req, 'direct') / m(req, 'user'), 3),
      bridge_vs_user_mb: round(m(mbs, 'direct') / m(mbs, 'user'), 3),
    };
  } finally {
    await env.close();
  }
}

export async function netStart(rounds: number): Promise<Record<string, number>> {
  header('net-start', { rounds });
  const env = await setup('net-start');
  try {
    let k = 0;
    const once = (net: string) => async (): Promise<number> => {
      const name = `start${k++}`;
      const t0 = now();
      const r = await env.run(['run', '-d', '--name', name, '--network', net, '-p', '127.0.0.1::80', 'nethttpd']);
      if (r.code !== 0) throw new Error(`net-start: run failed: ${r.stderr}`);
      const port = await hostPortOf(env, name);
      await client(env.ns, `http://127.0.0.1:${port}/`, 'first');
      const ms = now() - t0;
      await env.run(['rm', '-f', name]);
      return ms;
    };
    const t = await abba(rounds, { bridge: once('bench'), user: once('user') }, { warmup: 1 });
    return { bridge_ms: round(median(t.bridge)), user_ms: round(median(t.user)), ratio: round(median(t.bridge) / median(t.user), 3) };
  } finally {
    await env.close();
  }
}
