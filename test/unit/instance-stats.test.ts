// Instance stats from /proc text: field positions, odd command names, CPU % over an interval.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpuPercent, instanceStats, parseProcStat, parseVmRssBytes, readProcSample, statsReport, type StatsTarget } from '../../src/instances/stats.js';
import { binaryBytes, statsRow, uptime } from '../../src/cli/commands/stats.js';

// A real line from a QEMU process (proc(5): utime is field 14, stime 15, starttime 22).
const QEMU_STAT =
  '4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 2817 0 0 0 153 47 0 0 20 0 3 0 410649 1203712000 8650 18446744073709551615 1 1 0 0 0 0 0 4096 17635 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0';
const STATUS = ['Name:\tqemu-system-x86', 'State:\tS (sleeping)', 'VmPeak:\t 1175500 kB', 'VmSize:\t 1175500 kB', 'VmRSS:\t   34600 kB', 'RssAnon:\t    9000 kB', 'Threads:\t3', ''].join('\n');

test('parseProcStat reads utime, stime and starttime', () => {
  assert.deepEqual(parseProcStat(QEMU_STAT), { state: 'S', utime: 153, stime: 47, starttime: 410649 });
});

test('parseProcStat survives spaces and parentheses in the command name', () => {
  const odd = QEMU_STAT.replace('(qemu-system-x86)', '(a) b (c))');
  assert.deepEqual(parseProcStat(odd), { state: 'S', utime: 153, stime: 47, starttime: 410649 });
  assert.equal(parseProcStat('garbage'), undefined);
  assert.equal(parseProcStat('1 (x) S 1 2'), undefined, 'too few fields');
});

test('parseVmRssBytes reads VmRSS in bytes; a zombie has none', () => {
  assert.equal(parseVmRssBytes(STATUS), 34600 * 1024);
  assert.equal(parseVmRssBytes('Name:\tz\nState:\tZ (zombie)\n'), undefined);
});

test('cpuPercent is CPU time over wall time, percent of one CPU', () => {
  assert.equal(cpuPercent({ cpuTicks: 100, rssBytes: 0, atMs: 0 }, { cpuTicks: 150, rssBytes: 0, atMs: 1000 }), 50);
  assert.equal(cpuPercent({ cpuTicks: 0, rssBytes: 0, atMs: 0 }, { cpuTicks: 200, rssBytes: 0, atMs: 1000 }), 200, 'two busy vCPUs');
  assert.equal(cpuPercent({ cpuTicks: 10, rssBytes: 0, atMs: 0 }, { cpuTicks: 11, rssBytes: 0, atMs: 3000 }), 0.33);
  assert.equal(cpuPercent({ cpuTicks: 10, rssBytes: 0, atMs: 5 }, { cpuTicks: 20, rssBytes: 0, atMs: 5 }), 0, 'no interval');
});

const target: StatsTarget = { id: 'f'.repeat(64), name: 'idler', state: 'running', pid: 4242, startedAt: '2026-11-22T04:00:00.000Z', memoryMiB: 64 };

test('statsReport: a running instance, and one that is not', () => {
  const now = new Date('2026-11-22T04:01:05.000Z');
  const r = statsReport(target, { cpuTicks: 200, rssBytes: 1, atMs: 0 }, { cpuTicks: 210, rssBytes: 35_430_400, atMs: 1000 }, now);
  assert.deepEqual(r, {
    id: target.id,
    name: 'idler',
    state: 'running',
    pid: 4242,
    read: '2026-11-22T04:01:05.000Z',
    cpuPercent: 10,
    cpuSeconds: 2.1,
    memory: { rss: 35_430_400, guest: 64 * 1024 * 1024 },
    uptimeSeconds: 65,
  });
  const stopped = statsReport({ ...target, state: 'exited', pid: null }, undefined, undefined, now);
  assert.equal(stopped.pid, null);
  assert.equal(stopped.cpuPercent, 0);
  assert.equal(stopped.memory.rss, 0);
  assert.equal(stopped.memory.guest, 64 * 1024 * 1024);
  assert.equal(stopped.uptimeSeconds, 0);
});

test('readProcSample and instanceStats read a /proc tree; the first report covers a short window', async () => {
  const proc = mkdtempSync(join(tmpdir(), 'cunik-proc-'));
  try {
    mkdirSync(join(proc, '4242'));
    writeFileSync(join(proc, '4242', 'stat'), QEMU_STAT);
    writeFileSync(join(proc, '4242', 'status'), STATUS);
    const s = await readProcSample(4242, proc);
    assert.equal(s?.cpuTicks, 200);
    assert.equal(s?.rssBytes, 34600 * 1024);
    assert.equal(await readProcSample(999999, proc), undefined);

    const reports = [];
    for await (const r of instanceStats(() => target, { stream: false, firstWindowMs: 20, procRoot: proc })) reports.push(r);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.memory.rss, 34600 * 1024);
    assert.equal(reports[0]!.cpuPercent, 0, 'no CPU time between the samples');

    // Streaming: one report per interval until the instance is gone.
    let calls = 0;
    const streamed = [];
    for await (const r of instanceStats(() => (++calls <= 4 ? target : undefined), { stream: true, firstWindowMs: 5, intervalMs: 5, procRoot: proc })) streamed.push(r);
    assert.equal(streamed.length, 3);

    // A process that is gone: one zero report, then the end.
    const gone = [];
    for await (const r of instanceStats(() => ({ ...target, pid: 999999 }), { stream: true, firstWindowMs: 5, procRoot: proc })) gone.push(r);
    assert.equal(gone.length, 1);
    assert.equal(gone[0]!.pid, null);
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});

test('the real /proc: this process has CPU time and RSS', async () => {
  const s = await readProcSample(process.pid);
  assert.ok(s && s.rssBytes > 0 && s.cpuTicks >= 0);
});

test('cli: stats rows like docker stats', () => {
  assert.equal(binaryBytes(35_430_400), '33.79MiB');
  assert.equal(binaryBytes(64 * 1024 * 1024), '64MiB');
  assert.equal(binaryBytes(512), '512B');
  assert.equal(uptime(65), '1m5s');
  assert.equal(uptime(0), '--');
  assert.equal(uptime(90061), '1d1h');
  const r = statsReport(target, { cpuTicks: 200, rssBytes: 1, atMs: 0 }, { cpuTicks: 201, rssBytes: 35_430_400, atMs: 1000 }, new Date('2026-11-22T04:00:07Z'));
  assert.deepEqual(statsRow(r), ['ffffffffffff', 'idler', '1.00%', '33.79MiB / 64MiB', '7s']);
});
