// cli: `cunik run --rm hello` end to end (daemon up), the bare QEMU run to its exit, `cunik version`
// and `node -e 0`, in ABBA order after a warm-up round, so the CLI's own cost is measured against
// Node's start-up. node_ms is node started as bin/cunik starts it (without NODE_EXTRA_CA_CERTS);
// node_env_ms is `node -e 0` in the caller's environment, for scale (with a CA bundle there, node
// parses it at every start).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repo } from '../test/helpers/daemon.js';
import { abba, bareRun, daemonWithHello, header, median, now, round } from './harness.js';

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

export async function cliBench(rounds = 16): Promise<Record<string, number>> {
  header('cli', { rounds, warmup: 1 });
  const d = await daemonWithHello();
  const cunik = join(repo, 'bin', 'cunik');
  const host = ['-H', `unix://${d.socket}`];
  try {
    const { id } = await d.client.createInstance({ image: 'hello', name: 'argv-source' });
    const detail = await d.client.inspectInstance(id);
    await d.client.startInstance(id);
    const argv = (await d.client.inspectInstance(id)).vm.argv;
    const ms = await abba(
      rounds,
      {
        run: () => timed(cunik, [...host, 'run', '--rm', 'hello']),
        bare: async () => (await bareRun(argv, detail.paths.dir)).exitMs,
        version: () => timed(cunik, [...host, 'version']),
        node: () => timed(process.execPath, ['-e', '0']),
        node_env: () => timed(process.execPath, ['-e', '0'], process.env),
      },
      { warmup: 1 },
    );
    const [run_ms, bare_ms, version_ms, node_ms] = [median(ms.run), median(ms.bare), median(ms.version), median(ms.node)];
    return {
      run_ms: round(run_ms),
      bare_ms: round(bare_ms),
      version_ms: round(version_ms),
      node_ms: round(node_ms),
      node_env_ms: round(median(ms.node_env)),
      ratio: round(version_ms / node_ms, 3),
      run_ratio: round(run_ms / (node_ms + bare_ms), 3),
      run_overhead_ms: round(run_ms - node_ms - bare_ms),
    };
  } finally {
    await d.stop();
  }
}
