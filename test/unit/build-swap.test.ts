// scripts/swap-dist.sh: dist is always a whole build, the old one or the new one, never missing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repo } from '../helpers/daemon.js';

function fakeCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-swap-'));
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(repo, 'scripts', 'swap-dist.sh'), join(dir, 'scripts', 'swap-dist.sh'));
  return dir;
}

function build(dir: string, name: string): void {
  mkdirSync(join(dir, name, 'src'), { recursive: true });
  writeFileSync(join(dir, name, 'cunik.mjs'), `export const build = '${name}';\n`);
}

function swap(dir: string, name: string): { status: number | null; stderr: string } {
  const r = spawnSync('bash', [join(dir, 'scripts', 'swap-dist.sh'), join(dir, name)], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

test('a reader never finds dist missing or half-made while builds are swapped in, 300 times', async () => {
  const dir = fakeCheckout();
  try {
    build(dir, '.dist-0');
    assert.equal(swap(dir, '.dist-0').status, 0);
    // Builds as scripts/build.sh makes them, one after the other, in another process.
    const script = `cd ${JSON.stringify(dir)}; for i in $(seq 1 300); do mkdir -p .dist-$i/src; echo "export const build = '.dist-$i';" > .dist-$i/cunik.mjs; bash scripts/swap-dist.sh .dist-$i || exit 1; done`;
    const builder = spawn('bash', ['-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    builder.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((r) => builder.on('exit', r));
    let running = true;
    void done.then(() => (running = false));
    let reads = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    while (running) {
      try {
        seen.add(/'(.*)'/.exec(readFileSync(join(dir, 'dist', 'cunik.mjs'), 'utf8'))![1]!);
      } catch (err) {
        failures.push((err as Error).message);
      }
      reads++;
      if (reads % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.equal(await done, 0, stderr);
    assert.deepEqual(failures.slice(0, 3), [], `${failures.length} of ${reads} reads failed`);
    assert.ok(seen.size > 1, 'the reader saw builds change');
    assert.equal(readlinkSync(join(dir, 'dist')), '.dist-300');
    // The current build and the one before it are kept, no other.
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.dist')).sort(), ['.dist-299', '.dist-300']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a dist/ folder left by an older build is kept aside once, then replaced by the link', () => {
  const dir = fakeCheckout();
  try {
    build(dir, 'dist');
    build(dir, '.dist-1');
    assert.equal(swap(dir, '.dist-1').status, 0);
    assert.equal(readlinkSync(join(dir, 'dist')), '.dist-1');
    assert.match(readFileSync(join(dir, '.dist-before-symlink', 'cunik.mjs'), 'utf8'), /'dist'/);
    build(dir, '.dist-2');
    assert.equal(swap(dir, '.dist-2').status, 0);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.dist')).sort(), ['.dist-1', '.dist-2']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unfinished build (.dist-building-*) or another folder is refused', () => {
  const dir = fakeCheckout();
  try {
    build(dir, '.dist-building-1');
    build(dir, 'elsewhere');
    for (const name of ['.dist-building-1', 'elsewhere', '.dist-missing']) {
      const r = swap(dir, name);
      assert.equal(r.status, 1, name);
      assert.match(r.stderr, /is not a finished build folder/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
