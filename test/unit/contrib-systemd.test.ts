// contrib/cunikd.service: a unit systemd accepts, that never kills the VMs with the daemon.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repo } from '../helpers/daemon.js';

const unit = join(repo, 'contrib', 'cunikd.service');

test('systemd-analyze verify accepts contrib/cunikd.service', () => {
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.equal(r.error, undefined, 'systemd-analyze runs (setup.sh installs systemd)');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
});

test('the unit ends only the daemon (instances outlive it) and runs the cunikd setup.sh installs', () => {
  const text = readFileSync(unit, 'utf8');
  const setting = (key: string): string | undefined => new RegExp(`^${key}=(.*)$`, 'm').exec(text)?.[1];
  assert.equal(setting('KillMode'), 'process');
  assert.match(setting('ExecStart') ?? '', /^\/usr\/local\/bin\/cunikd( |$)/);
  assert.match(readFileSync(join(repo, 'setup.sh'), 'utf8'), /ln -sf "\$PWD\/bin\/cunikd\.js" \/usr\/local\/bin\/cunikd/);
  assert.equal(setting('RuntimeDirectory'), 'cunik');
});
