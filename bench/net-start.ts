// net-start: see bench/net-env.ts (run -d to the first answered request, bridge network vs user mode).
import { abba, header, median, now, round } from './harness.js';
import { client, hostPortOf, setup } from './net-env.js';

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
