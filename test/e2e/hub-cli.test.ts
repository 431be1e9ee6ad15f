// `cunik hub serve|gc` as typed: the verb runs CunikHub as its own program, so the CLI's bundle
// holds none of it; a bad flag or config is one line and a non-zero exit.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repo } from '../helpers/daemon.js';

const cunik = join(repo, 'bin', 'cunik');

test('cunik hub serve answers /v2/ and stops on SIGTERM with status 0; gc --dry-run reports', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cunik-hub-cli-'));
  try {
    const p = spawn(cunik, ['hub', 'serve', '--addr', '127.0.0.1:0', '--root', join(dir, 'root')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      p.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      p.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const r = await fetch(`${url}/v2/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
    const exit = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
    p.kill('SIGTERM');
    assert.equal(await exit, 0);
    const gc = spawnSync(cunik, ['hub', 'gc', '--dry-run', '--root', join(dir, 'root')], { encoding: 'utf8' });
    assert.equal(gc.status, 0, gc.stderr);
    assert.match(gc.stdout, /would remove 0 manifests, 0 blob links, 0 blobs \(0 bytes\), 0 abandoned uploads/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('cunik hub: bad address or config is one line and exit 1; the CLI bundle does not hold the hub', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cunik-hub-cli-'));
  try {
    const bad = spawnSync(cunik, ['hub', 'serve', '--addr', 'nowhere', '--root', join(dir, 'root')], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^cunik-hub: invalid address "nowhere" \(use HOST:PORT, e\.g\. 127\.0\.0\.1:5000\)\n$/);
    writeFileSync(join(dir, 'c.yaml'), 'gc:\n  grace: soon\n');
    const cfg = spawnSync(cunik, ['hub', 'gc', '--config', join(dir, 'c.yaml'), '--root', join(dir, 'root')], { encoding: 'utf8' });
    assert.equal(cfg.status, 1);
    assert.match(cfg.stderr, /^cunik-hub: .*c\.yaml: config\.gc\.grace must be a duration such as 1h or 30m \(got "soon"\)\n$/);
    const bundle = readFileSync(join(repo, 'dist', 'cunik.mjs'), 'utf8');
    assert.ok(!bundle.includes('BLOB_UPLOAD_UNKNOWN'), 'the registry is bundled into the CLI');
    assert.ok(!bundle.includes('fastify'), 'fastify is bundled into the CLI');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
