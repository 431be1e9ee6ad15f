// cli: `cunik run --rm hello` end to end (daemon up), the bare QEMU run, `cunik version` and
// `node -e 0`, alternating, so the CLI's own cost is measured against Node's start-up. node_ms is
// node started as bin/cunik starts it (without NODE_EXTRA_CA_CERTS); node_env_ms is `node -e 0` in
// the caller's environment, for scale (with a CA bundle there, node parses it at every start).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repo } from '../test/helpers/daemon.js';
import { bareRun, daemonWithHello, median, now, round } from './harness.js';

/** bin/cunik starts node without NODE_EXTRA_CA_CERTS (it makes no TLS connection): so does the baseline. */
const { NODE_EXTRA_CA_CERTS: _certs, ...cliEnv } = process.env;

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = cliEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const p = spawn(cmd, args, { stdio: 'ignore', env });
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(now() - t0) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

export async function cliBench(rounds = 15): Promise<Record<string, number>> {
  const d = await daemonWithHello();
  const cunik = join(repo, 'bin', 'cunik');
  const host = ['-H', `unix://${d.socket}`];
  const runs: number[] = [];
  const bares: number[] = [];
  const versions: number[] = [];
  const nodes: number[] = [];
  const envNodes: number[] = [];
  try {
    const { id } = await d.client.createInstance({ image: 'hello', name: 'argv-source' });
    const detail = await d.client.inspectInstance(id);
    await d.client.startInstance(id);
    const argv = (await d.client.inspectInstance(id)).vm.argv;
    for (let i = 0; i < rounds + 1; i++) {
      const r = await timed(cunik, [...host, 'run', '--rm', 'hello']);
      const b = (await bareRun(argv, detail.paths.dir)).exitMs;
      const v = await timed(cunik, [...host, 'version']);
      const n = await timed(process.execPath, ['-e', '0']);
      const ne = await timed(process.execPath, ['-e', '0'], process.env);
      if (i === 0) continue; // warm-up round
      envNodes.push(ne);
      runs.push(r);
      bares.push(b);
      versions.push(v);
      nodes.push(n);
    }
  } finally {
    await d.stop();
  }
  const run_ms = median(runs);
  const bare_ms = median(bares);
  const version_ms = median(versions);
  const node_ms = median(nodes);
  return {
    rounds,
    run_ms: round(run_ms),
    bare_ms: round(bare_ms),
    version_ms: round(version_ms),
    node_ms: round(node_ms),
    node_env_ms: round(median(envNodes)),
    cli_overhead_ratio: round(version_ms / node_ms, 3),
    run_overhead_ms: round(run_ms - node_ms - bare_ms),
  };
}
