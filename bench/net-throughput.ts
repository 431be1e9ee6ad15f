// net-throughput: see bench/net-env.ts (req/s and MB/s via DNAT, 127.0.0.1 and the bridge address, and user mode).
// Two guests: busybox httpd (examples/httpd, a fork per connection: under TCG the guest is the limit on
// every path) and lighttpd (examples/lighttpd, event-driven), the latter also with keep-alive. Keys
// without a suffix are busybox httpd's; `_lighttpd` and `_lighttpd_keepalive` are lighttpd's.
import { abba, header, median, round } from './harness.js';
import { client, HOST, hostPortOf, setup, type Env } from './net-env.js';

const PATHS = ['direct', 'dnat', 'loopback', 'user'] as const;
type Path = (typeof PATHS)[number];
type Urls = Record<Path, readonly [string, string]>;

/** A bridge guest (published on 127.0.0.1 and all addresses) and a user-mode guest of `image`: the four URLs. */
async function guests(env: Env, image: string, bridge: string, user: string): Promise<Urls> {
  for (const [name, net] of [[bridge, 'bench'], [user, 'user']] as const) {
    const r = await env.run(['run', '-d', '--name', name, '--network', net, '-p', '127.0.0.1::80', ...(net === 'bench' ? ['-p', '80'] : []), image]);
    if (r.code !== 0) throw new Error(`net-throughput: run failed: ${r.stderr}`);
  }
  const bridgeIp = (JSON.parse((await env.run(['inspect', bridge])).stdout) as [{ network: { ipAddress: string } }])[0].network.ipAddress;
  const ports = (await env.run(['port', bridge, '80'])).stdout.trim().split('\n');
  const loPort = Number(ports.find((p) => p.startsWith('127.0.0.1:'))!.split(':')[1]);
  const allPort = Number(ports.find((p) => p.startsWith('0.0.0.0:'))!.split(':')[1]);
  const userPort = await hostPortOf(env, user);
  return { direct: [env.ns, `http://${bridgeIp}/`], dnat: [env.peer, `http://${HOST}:${allPort}/`], loopback: [env.ns, `http://127.0.0.1:${loPort}/`], user: [env.ns, `http://127.0.0.1:${userPort}/`] };
}

export async function netThroughput(rounds: number): Promise<Record<string, number>> {
  header('net-throughput', { rounds, get_s: 3, download_mib: 10, guests: 'busybox-httpd(no suffix: fork per connection),lighttpd(_lighttpd: event-driven; _lighttpd_keepalive: one kept-alive connection)' });
  const env = await setup('net-throughput', { lighttpd: true });
  try {
    const guest = { '': await guests(env, 'nethttpd', 'tb', 'tu'), _lighttpd: await guests(env, 'netlighttpd', 'lb', 'lu') };
    for (const urls of Object.values(guest)) for (const [ns, url] of Object.values(urls)) await client(ns, url, 'first');
    // Every side of one figure kind in one ABBA run: `${path}${suffix}`.
    const sides = (mode: 'get' | 'keep' | 'big', suffix: string, urls: Urls): Record<string, () => Promise<number>> =>
      Object.fromEntries(PATHS.map((p) => [`${p}${suffix}`, () => client(urls[p][0], `${urls[p][1]}${mode === 'big' ? 'big' : ''}`, mode)]));
    const req = await abba(rounds, { ...sides('get', '', guest['']), ...sides('get', '_lighttpd', guest._lighttpd), ...sides('keep', '_lighttpd_keepalive', guest._lighttpd) });
    const mbs = await abba(rounds, { ...sides('big', '', guest['']), ...sides('big', '_lighttpd', guest._lighttpd) });
    const m = (o: Record<string, number[]>, k: string): number => median(o[k]!);
    const reqFigures = (s: string): Record<string, number> => ({
      [`direct_req_s${s}`]: round(m(req, `direct${s}`), 1), [`dnat_req_s${s}`]: round(m(req, `dnat${s}`), 1), [`loopback_req_s${s}`]: round(m(req, `loopback${s}`), 1), [`user_req_s${s}`]: round(m(req, `user${s}`), 1),
      [`dnat_ratio${s}`]: round(m(req, `dnat${s}`) / m(req, `direct${s}`), 3),
      [`loopback_ratio${s}`]: round(m(req, `loopback${s}`) / m(req, `direct${s}`), 3),
    });
    const bridgeVsUser = (s: string): number => round(m(req, `direct${s}`) / m(req, `user${s}`), 3);
    const mbFigures = (s: string): Record<string, number> => ({
      [`direct_mb_s${s}`]: round(m(mbs, `direct${s}`), 1), [`dnat_mb_s${s}`]: round(m(mbs, `dnat${s}`), 1), [`loopback_mb_s${s}`]: round(m(mbs, `loopback${s}`), 1), [`user_mb_s${s}`]: round(m(mbs, `user${s}`), 1),
      [`dnat_mb_ratio${s}`]: round(m(mbs, `dnat${s}`) / m(mbs, `direct${s}`), 3),
      [`loopback_mb_ratio${s}`]: round(m(mbs, `loopback${s}`) / m(mbs, `direct${s}`), 3),
      [`bridge_vs_user_mb${s}`]: round(m(mbs, `direct${s}`) / m(mbs, `user${s}`), 3),
    });
    return {
      ...reqFigures(''), ...mbFigures(''), bridge_vs_user: bridgeVsUser(''),
      ...reqFigures('_lighttpd'), ...mbFigures('_lighttpd'), bridge_vs_user_lighttpd: bridgeVsUser('_lighttpd'),
      ...reqFigures('_lighttpd_keepalive'), bridge_vs_user_lighttpd_keepalive: bridgeVsUser('_lighttpd_keepalive'),
    };
  } finally {
    await env.close();
  }
}
