// `npm run build` while the checkout's cunik is in use (setup.sh installs /usr/local/bin/cunik
// from here): every run of the CLI during the build must work. The build used to delete dist/
// first ("Cannot find module dist/cunik.mjs" for anything started meanwhile).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repo } from '../helpers/daemon.js';

test('bin/cunik --version works at every moment of npm run build', async () => {
  const build = spawn('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] });
  let buildErr = '';
  build.stderr.on('data', (d: Buffer) => (buildErr += d.toString()));
  let building = true;
  const built = new Promise<number | null>((r) => build.on('exit', (code) => ((building = false), r(code))));
  const failures: string[] = [];
  let runs = 0;
  while (building) {
    const r = spawnSync(join(repo, 'bin', 'cunik'), ['--version'], { encoding: 'utf8' });
    runs++;
    if (r.status !== 0 || r.stdout.trim() === '') failures.push(`exit ${r.status}: ${r.stderr.trim().split('\n')[0]}`);
    await new Promise((r) => setTimeout(r, 50)); // paced: the build needs the CPU more
  }
  assert.equal(await built, 0, buildErr);
  assert.ok(runs >= 5, `only ${runs} runs during the build`);
  assert.deepEqual(failures.slice(0, 3), [], `${failures.length} of ${runs} runs failed`);
});
