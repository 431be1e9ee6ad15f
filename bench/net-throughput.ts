// net-throughput: see bench/net-env.ts (req/s and MB/s via DNAT, 127.0.0.1 and the bridge address, and user mode).
import { abba, header, median, round } from './harness.js';
import { client, HOST, hostPortOf, setup } from './net-env.js';

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

