#!/usr/bin/env node
// Runs the whole suite from dist/ (built by `npm run build`): unit, then integration, then e2e.
// Integration and e2e boot real QEMU guests, so they run with limited concurrency on small hosts.
// A skipped test fails the run: setup.sh installs everything the tests need, so a skip means a
// machine (or a test) that checks less than it claims to (the spec report says which).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The skipped tests named in a TAP report: [name, reason] for each "ok N - name # SKIP reason". */
export function skippedTests(tap) {
  const out = [];
  for (const line of tap.split('\n')) {
    const m = /^\s*ok \d+ - (.*?) # SKIP\b ?(.*)$/.exec(line);
    if (m) out.push([m[1], m[2]]);
  }
  return out;
}

function main() {
  const groups = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e'];
  const reports = mkdtempSync(join(tmpdir(), 'cunik-test-report-'));
  let failed = false;
  const skipped = [];
  try {
    for (const group of groups) {
      const dir = join('dist', 'test', group);
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.js')).map((f) => join(dir, f)) : [];
      if (files.length === 0) continue;
      console.log(`# ${group}: ${files.length} files`);
      const concurrency = group === 'unit' ? 4 : 2;
      const tap = join(reports, `${group}.tap`);
      const r = spawnSync(process.execPath, [
        '--test', `--test-concurrency=${concurrency}`,
        '--test-reporter=spec', '--test-reporter-destination=stdout',
        '--test-reporter=tap', `--test-reporter-destination=${tap}`,
        ...files,
      ], { stdio: 'inherit' });
      if (r.status !== 0) failed = true;
      if (existsSync(tap)) for (const [name, why] of skippedTests(readFileSync(tap, 'utf8'))) skipped.push(`${group}: ${name}${why ? ` (${why})` : ''}`);
    }
  } finally {
    rmSync(reports, { recursive: true, force: true });
  }
  if (skipped.length > 0) {
    console.error(`\n${skipped.length} skipped test(s) fail the run (no test may skip; setup.sh installs what they need):`);
    for (const s of skipped) console.error(`  ${s}`);
    failed = true;
  }
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
