// scripts/test.js, the suite's runner: a skipped test fails the run, and the run says which.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repo } from '../helpers/daemon.js';

const work = mkdtempSync(join(tmpdir(), 'cunik-runner-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Run the runner on one group of test files in a scratch tree (dist/test/GROUP/*.test.js). */
function runGroup(group: string, files: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const dir = join(work, group, 'dist', 'test', group);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(work, group, 'package.json'), '{"type": "module"}\n');
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  // Without NODE_TEST_CONTEXT, which would make the nested node --test think it runs under this one.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [join(repo, 'scripts', 'test.js'), group], { cwd: join(work, group), encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a skipped test fails the run and is named with its reason', () => {
  const r = runGroup('skips', {
    'a.test.js': "import { test } from 'node:test';\ntest('passes', () => {});\ntest('needs a tool', { skip: 'no frobnicator' }, () => {});\n",
    'b.test.js': "import { test } from 'node:test';\ntest('skips itself', (t) => t.skip('missing package'));\n",
  });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /2 skipped test\(s\) fail the run/);
  assert.match(r.stderr, /skips: needs a tool \(no frobnicator\)/);
  assert.match(r.stderr, /skips: skips itself \(missing package\)/);
  assert.match(r.stdout, /passes/, 'the spec report still goes to the terminal');
});

test('a run with no skip and no failure passes; a failure still fails', () => {
  assert.equal(runGroup('green', { 'a.test.js': "import { test } from 'node:test';\ntest('passes', () => {});\n" }).status, 0);
  assert.equal(runGroup('red', { 'a.test.js': "import { test } from 'node:test';\ntest('fails', () => { throw new Error('x'); });\n" }).status, 1);
});
