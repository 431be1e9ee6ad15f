// cunik stats: live resource use of instances (docker stats): CPU %, host memory (RSS of the
// VMM process) against guest memory, uptime. Default: every running instance, refreshed each second.
import type { Command } from 'commander';
import type { InstanceStats } from '../../api/stats.js';
import { json, shortId, table } from '../format/table.js';
import { ndjson } from '../format/lines.js';
import { readAll } from '../../client/http.js';
import type { CunikClient } from '../../client/index.js';
import { action, clientFor, errorMessage, EXIT_CLI_ERROR } from '../util.js';

const HEADERS = ['INSTANCE ID', 'NAME', 'CPU %', 'MEM USAGE (RSS) / GUEST MEM', 'UPTIME'];

/** Binary units, as docker stats prints memory: 33.12MiB. */
export function binaryBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${Number.isInteger(v) ? v : v.toFixed(2)}${units[i]}`;
}

export function uptime(seconds: number): string {
  if (seconds <= 0) return '--';
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (d) return `${d}d${h}h`;
  if (h) return `${h}h${m}m`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

export function statsRow(s: InstanceStats): string[] {
  const live = s.pid !== null;
  return [
    shortId(s.id),
    s.name,
    live ? `${s.cpuPercent.toFixed(2)}%` : '--',
    live ? `${binaryBytes(s.memory.rss)} / ${binaryBytes(s.memory.guest)}` : `-- / ${binaryBytes(s.memory.guest)}`,
    uptime(s.uptimeSeconds),
  ];
}

/** Docker's --format fields for one report (docker stats: .Container .ID .Name .CPUPerc .MemUsage .MemPerc .PIDs), and .Uptime. */
export function statsFields(s: InstanceStats): Record<string, string> {
  const live = s.pid !== null;
  const [id, name, cpu, mem, up] = statsRow(s) as [string, string, string, string, string];
  return {
    Container: id, ID: id, Name: name, CPUPerc: cpu, MemUsage: mem,
    MemPerc: live && s.memory.guest > 0 ? `${((100 * s.memory.rss) / s.memory.guest).toFixed(2)}%` : '--',
    NetIO: '--', BlockIO: '--', PIDs: live ? '1' : '0', Uptime: up,
  };
}

const FIELD_HEADERS = { Container: 'INSTANCE', ID: 'INSTANCE ID', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE (RSS) / GUEST MEM', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS', Uptime: 'UPTIME' };

/** The reports as the table, or through a Go template (--format '{{.Name}} {{.CPUPerc}}', 'table ...'). */
async function render(format: string, list: InstanceStats[]): Promise<string> {
  if (format === 'table') return table(HEADERS, list.map(statsRow));
  const { renderList } = await import('../format/output.js');
  return renderList(format, list.map(statsFields), FIELD_HEADERS);
}

async function once(client: CunikClient, targets: string[], format: string): Promise<void> {
  const results = await Promise.allSettled(
    targets.map(async (t) => JSON.parse((await readAll(await client.stats(t, false))).toString('utf8')) as InstanceStats),
  );
  const ok: InstanceStats[] = [];
  let failed = false;
  for (const r of results) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else {
      failed = true;
      process.stderr.write(`cunik: ${errorMessage(r.reason)}\n`);
    }
  }
  // Only the errors when nothing was found (docker stats prints no empty table for a wrong name).
  if (ok.length > 0 || !failed) process.stdout.write(format === 'json' ? json(ok) : await render(format, ok));
  if (failed) process.exitCode = EXIT_CLI_ERROR;
}

/** One stream per instance; the table is redrawn every second. With no names, instances started later join. */
async function streaming(client: CunikClient, named: string[], format: string): Promise<void> {
  const latest = new Map<string, InstanceStats>();
  const open = new Set<string>();
  const order: string[] = [];
  let failed = false;
  const follow = (target: string): Promise<void> => {
    open.add(target);
    return (async () => {
      try {
        for await (const s of ndjson<InstanceStats>(await client.stats(target, true))) {
          if (!order.includes(s.id)) order.push(s.id);
          latest.set(s.id, s);
          if (format === 'json') process.stdout.write(`${JSON.stringify(s)}\n`);
        }
      } catch (err) {
        failed = true;
        process.stderr.write(`cunik: ${errorMessage(err)}\n`);
      } finally {
        open.delete(target);
        // Without names, a stopped instance leaves the table, as in docker stats.
        if (named.length === 0) for (const [id, s] of latest) if (id === target || s.name === target) latest.delete(id);
      }
    })();
  };
  const discover = async (): Promise<void> => {
    for (const i of await client.listInstances(false)) if (!open.has(i.id)) void follow(i.id);
  };
  if (named.length) for (const t of named) void follow(t);
  else await discover();
  const tty = process.stdout.isTTY;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    if (format !== 'json') {
      const shown = order.filter((id) => latest.has(id)).map((id) => latest.get(id)!);
      process.stdout.write((tty ? '\x1b[2J\x1b[H' : '') + (await render(format, shown)));
    }
    // A daemon that cannot list its instances any more (it died) ends the command, as docker stats.
    if (named.length === 0) await discover();
    else if (open.size === 0) break;
  }
  if (failed) process.exitCode = EXIT_CLI_ERROR;
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('Display a live stream of instance resource usage statistics')
    .option('-a, --all', 'show all instances (default shows just running)')
    .option('--no-stream', 'print one report and exit')
    .option('--format <format>', "output format: table, json (the native reports), or a Go template: '{{.Name}} {{.CPUPerc}} {{.MemUsage}}', 'table {{.Name}}\\t{{.MemPerc}}'", 'table')
    .argument('[instances...]', 'names or ids (default: all running)')
    .action(
      action(async (targets: string[], flags: { all?: boolean; stream: boolean; format: string }, cmd: Command) => {
        const client = await clientFor(cmd);
        if (!flags.stream) {
          const names = targets.length ? targets : (await client.listInstances(flags.all ?? false)).map((i) => i.id);
          await once(client, names, flags.format);
        } else {
          const names = targets.length || !flags.all ? targets : (await client.listInstances(true)).map((i) => i.id);
          await streaming(client, names, flags.format);
        }
        client.close();
      }),
    );
}
