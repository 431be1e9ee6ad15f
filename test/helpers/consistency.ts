// What "nothing lost, nothing orphaned" means for a daemon root, checked from the outside:
// the records on disk, the instance directories, the sockets and the processes must agree.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface StoredRecord {
  id: string;
  name: string;
  state: string;
  pid: number | null;
}

/** Every process whose argv mentions this root. */
function processesUnder(root: string): { pid: number; argv: string }[] {
  const found: { pid: number; argv: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!pid || pid === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      if (argv.includes(join(root, 'instances')) && state !== 'Z') found.push({ pid, argv });
    } catch {
      // gone
    }
  }
  return found;
}

/** Problems found (empty when consistent). `running` maps instance ids the API reports as running. */
export function inconsistencies(root: string, apiStates: Map<string, string>): string[] {
  const problems: string[] = [];
  const dir = join(root, 'instances');
  const dirs = existsSync(dir) ? readdirSync(dir) : [];
  const records = new Map<string, StoredRecord>();
  for (const id of dirs) {
    if (id.startsWith('.')) {
      problems.push(`leftover ${id}`);
      continue;
    }
    try {
      records.set(id, JSON.parse(readFileSync(join(dir, id, 'instance.json'), 'utf8')) as StoredRecord);
    } catch {
      problems.push(`instance dir without a record: ${id}`);
    }
  }
  const names = new Set<string>();
  for (const r of records.values()) {
    if (names.has(r.name)) problems.push(`name used twice: ${r.name}`);
    names.add(r.name);
    if (!apiStates.has(r.id)) problems.push(`record the daemon does not list: ${r.id}`);
  }
  for (const id of apiStates.keys()) if (!records.has(id)) problems.push(`listed instance without a record: ${id}`);
  const running = new Set([...apiStates].filter(([, s]) => s === 'running' || s === 'paused').map(([id]) => id));
  for (const p of processesUnder(root)) {
    const owner = [...records.keys()].find((id) => p.argv.includes(join(dir, id)));
    if (!owner || !running.has(owner)) p.argv.includes('qemu-system') && problems.push(`orphan VM process ${p.pid} (${owner ?? 'no record'})`);
  }
  for (const id of running) {
    if (!processesUnder(root).some((p) => p.argv.includes(join(dir, id)) && p.argv.includes('qemu-system'))) problems.push(`running instance without a VM: ${id}`);
  }
  return problems;
}
