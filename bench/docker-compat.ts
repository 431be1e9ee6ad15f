// docker-compat: the docker CLI through cunikd --docker-host against the native cunik CLI on the
// same daemon, in ABBA order after a warm-up round: `docker run --rm hello` vs `cunik run --rm
// hello` (the guest's whole run, console shown, exit code back), then `docker ps -a` vs `cunik ps
// -a` with 100 instances created (not started: the list is the figure, not 100 VMs' memory).
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helloKernel, repo, startDaemon } from '../test/helpers/daemon.js';
import { abba, header, median, now, round } from './harness.js';

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const p = spawn(cmd, args, { stdio: 'ignore', env });
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(now() - t0) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

export async function dockerCompat(rounds = 15, instances = 100): Promise<Record<string, number>> {
  header('docker-compat', { rounds, warmup: 1, instances });
  const dir = mkdtempSync(join(tmpdir(), 'cunik-bench-docker-'));
  const sock = join(dir, 'docker.sock');
  const d = await startDaemon({ dir, args: ['--accel', 'tcg', '--docker-host', `unix://${sock}`] });
  const cunik = join(repo, 'bin', 'cunik');
  const host = ['-H', `unix://${d.socket}`];
  const dockerEnv = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'docker-config') };
  try {
    await d.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
    const run = await abba(rounds, { docker: () => timed('docker', ['run', '--rm', 'hello'], dockerEnv), cunik: () => timed(cunik, [...host, 'run', '--rm', 'hello'], process.env) }, { warmup: 1 });
    for (let i = 0; i < instances; i++) await d.client.createInstance({ image: 'hello', name: `listed-${i}` });
    const ps = await abba(rounds, { docker: () => timed('docker', ['ps', '-a'], dockerEnv), cunik: () => timed(cunik, [...host, 'ps', '-a'], process.env) }, { warmup: 1 });
    const [dockerRun, cunikRun, dockerPs, cunikPs] = [median(run.docker), median(run.cunik), median(ps.docker), median(ps.cunik)];
    return {
      docker_run_ms: round(dockerRun),
      cunik_run_ms: round(cunikRun),
      ratio: round(dockerRun / cunikRun, 3),
      docker_ps_ms: round(dockerPs),
      cunik_ps_ms: round(cunikPs),
      ps_ratio: round(dockerPs / cunikPs, 3),
    };
  } finally {
    await d.stop();
  }
}
