// bench/memcg.ts: a side's memory is what its own processes allocate, not what the rest of the host
// does meanwhile (the density bench read -1.3 MiB per instance from MemAvailable on a busy host).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { census, MemoryGroup } from '../../bench/memcg.js';

/** A node process that touches `mib` MiB, says so on stdout, and stays until killed. */
function holder(mib: number, wrap: (argv: string[]) => string[] = (a) => a): Promise<{ pid: number; kill: () => Promise<void> }> {
  const argv = wrap([process.execPath, '-e', `globalThis.b = Buffer.alloc(${mib} * 1048576, 1); console.log('held'); setInterval(() => {}, 1e6)`]);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const gone = new Promise((r) => child.once('exit', r));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', () => resolve({ pid: child.pid!, kill: async () => void (child.kill('SIGKILL'), await gone) }));
  });
}

test('a memory group charges what its processes allocate, and nothing a process outside it does', async () => {
  const group = MemoryGroup.create('cunik-test-memcg');
  assert.ok(group, 'this host (root, memory controller) can make a memory cgroup');
  try {
    const before = group.usageKiB();
    const outside = await holder(96);
    const afterOutside = group.usageKiB();
    const inside = await holder(64, (a) => group.wrap(a));
    const afterInside = group.usageKiB();
    assert.deepEqual(group.pids(), [inside.pid], 'the wrapped process is in the group, as itself (the shell exec()ed it)');
    assert.ok(Math.abs(afterOutside - before) < 4096, `a process outside moved the group by ${afterOutside - before} KiB`);
    const grown = (afterInside - afterOutside) / 1024;
    assert.ok(grown >= 64 && grown < 64 + 48, `64 MiB touched inside grew the group by ${grown} MiB (node's own start-up included)`);
    const c = census(group.pids());
    assert.equal(c['node']?.count, 1);
    assert.ok(c['node']!.pssKiB >= 64 * 1024);
    await inside.kill();
    await outside.kill();
  } finally {
    await group.remove();
  }
});
