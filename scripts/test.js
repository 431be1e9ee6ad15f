#!/usr/bin/env node
// Runs the whole suite from dist/ (built by `npm run build`): unit, then integration, then e2e.
// Integration and e2e boot real QEMU guests, so they run with limited concurrency on small hosts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const groups = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e'];
let failed = false;
for (const group of groups) {
  const dir = join('dist', 'test', group);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.js')).map((f) => join(dir, f)) : [];
  if (files.length === 0) continue;
  console.log(`# ${group}: ${files.length} files`);
  const concurrency = group === 'unit' ? 4 : 2;
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
