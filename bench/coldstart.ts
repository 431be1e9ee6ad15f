// coldstart: API start request → hello's first console line through the daemon, against the same
// kernel under a bare qemu-system-x86_64 with exactly the daemon's argv (bare: from its spawn),
// in ABBA order after a warm-up round; medians.
import type { TestDaemon } from '../test/helpers/daemon.js';
import { abba, bareRun, daemonWithHello, header, median, now, round } from './harness.js';

/** One instance through the daemon: ms from the start request to its first console line. */
async function daemonRun(d: TestDaemon): Promise<{ ms: number; id: string }> {
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
  return { ms: t1 - t0, id };
}

export async function coldstart(rounds = 16): Promise<Record<string, number>> {
  header('coldstart', { rounds, warmup: 1 });
  const d = await daemonWithHello();
  try {
    // The warm-up run's instance gives the bare side its argv and files (kept until the end).
    const template = await daemonRun(d);
    const detail = await d.client.inspectInstance(template.id);
    const ms = await abba(
      rounds,
      {
        daemon: async () => {
          const r = await daemonRun(d);
          await d.client.removeInstance(r.id);
          return r.ms;
        },
        bare: async () => (await bareRun(detail.vm.argv, detail.paths.dir)).firstLineMs,
      },
      { warmup: 1 },
    );
    const daemon_ms = median(ms.daemon);
    const bare_ms = median(ms.bare);
    return { daemon_ms: round(daemon_ms), bare_ms: round(bare_ms), ratio: round(daemon_ms / bare_ms, 3) };
  } finally {
    await d.stop();
  }
}
