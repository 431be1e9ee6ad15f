// coldstart: API start request → hello's first console line through the daemon, against the same
// kernel under a bare qemu-system-x86_64 with exactly the daemon's argv, alternating pairs.
import { bareRun, daemonWithHello, median, now, round } from './harness.js';

export async function coldstart(rounds = 15): Promise<Record<string, number>> {
  const d = await daemonWithHello();
  const daemonMs: number[] = [];
  const bareMs: number[] = [];
  try {
    for (let i = 0; i < rounds + 1; i++) {
      const { id } = await d.client.createInstance({ image: 'hello' });
      const waiting = await d.client.waitInstance(id, 'next-exit');
      const logs = await d.client.logs(id, true);
      const first = new Promise<number>((resolve) => {
        let seen = false;
        logs.on('data', (chunk: Buffer) => {
          if (!seen && chunk.includes(10)) {
            seen = true;
            resolve(now());
          }
        });
      });
      const t0 = now();
      await d.client.startInstance(id);
      const t1 = await first;
      await waiting.exitCode;
      for await (const _ of logs) void _;
      const detail = await d.client.inspectInstance(id);
      const bare = await bareRun(detail.vm.argv, detail.paths.dir);
      await d.client.removeInstance(id);
      if (i === 0) continue; // warm-up pair
      daemonMs.push(t1 - t0);
      bareMs.push(bare.firstLineMs);
    }
  } finally {
    await d.stop();
  }
  const daemon_ms = median(daemonMs);
  const bare_ms = median(bareMs);
  return { rounds, daemon_ms: round(daemon_ms), bare_ms: round(bare_ms), ratio: round(daemon_ms / bare_ms, 3) };
}
