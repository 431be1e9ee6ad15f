// Progress of a pull or push: on a terminal, one line per layer redrawn in place with a bar;
// otherwise plain lines, one per step (no byte counts), so logs stay readable.
import type { DistributionMessage } from '../api/distribution.js';

const units = ['B', 'kB', 'MB', 'GB'];
function human(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)}${units[i]}`;
}

export function bar(current: number, total: number, width = 30): string {
  const f = total > 0 ? Math.min(1, current / total) : 1;
  const full = Math.floor(f * width);
  return `[${'='.repeat(full)}${full < width ? '>' : ''}${' '.repeat(Math.max(0, width - full - 1))}] ${human(current)}/${human(total)}`;
}

/** The plain line of a message, or undefined for a byte-count update. */
export function plainLine(m: DistributionMessage): string | undefined {
  if (m.status === undefined) return undefined;
  if (m.progressDetail && m.progressDetail.current !== m.progressDetail.total && m.status !== 'Pushing') return undefined;
  if (m.status === 'Pushing') return undefined;
  return m.id !== undefined ? `${m.id}: ${m.status}` : m.status;
}

export function progressPrinter(out: NodeJS.WriteStream, quiet = false): (m: DistributionMessage) => void {
  if (quiet) return () => undefined;
  if (!out.isTTY) {
    return (m) => {
      const line = plainLine(m);
      if (line !== undefined) out.write(`${line}\n`);
    };
  }
  const order: string[] = [];
  const lines = new Map<string, string>();
  let drawn = 0;
  return (m) => {
    if (m.status === undefined) return;
    if (m.id === undefined || !/^[a-f0-9]{12}$/.test(m.id)) {
      out.write(`${m.status}${m.id !== undefined ? ` ${m.id}` : ''}\n`);
      drawn = 0;
      order.length = 0;
      return;
    }
    if (!lines.has(m.id)) order.push(m.id);
    const d = m.progressDetail;
    lines.set(m.id, `${m.id}: ${m.status}${d?.total !== undefined && d.current !== d.total ? ` ${bar(d.current ?? 0, d.total)}` : ''}`);
    if (drawn > 0) out.write(`\x1b[${drawn}A`);
    for (const id of order) out.write(`\x1b[2K${lines.get(id)}\n`);
    drawn = order.length;
  };
}
