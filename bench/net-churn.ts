// net-churn: see bench/net-env.ts (run/rm cycles with a published port on a bridge network, 4 in parallel; leaks counted).
import { header, now, round } from './harness.js';
import { counts, setup } from './net-env.js';

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

