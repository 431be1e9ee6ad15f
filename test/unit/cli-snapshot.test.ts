// The CLI runs from a V8 startup snapshot, where import() of a module outside the bundle fails
// ("A dynamic import callback was not specified"): CLI code may only import() its own files.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { installRoot } from '../../src/config/defaults.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('CLI and client code import() only relative modules', () => {
  const root = installRoot();
  for (const file of [...sources(join(root, 'src', 'cli')), ...sources(join(root, 'src', 'client'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(/import\(\s*['"]([^'"]+)['"]/g)) {
      assert.ok(m[1]!.startsWith('.'), `${file}: import('${m[1]}') would fail inside the startup snapshot`);
    }
  }
});
