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

/** A layer's line is keyed by its short id (12 hex digits); other messages are whole-image steps. */
const LAYER_ID = /^[a-f0-9]{12}$/;

/**
 * The terminal view: one line per layer, redrawn in place (cursor up, clear line) with a bar while
 * bytes move; a whole-image step is printed below and starts a new block. `render` is pure: it
 * returns what to write for one message.
 */
export class ProgressBoard {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, string>();
  private drawn = 0;

  render(m: DistributionMessage): string {
    if (m.status === undefined) return '';
    if (m.id === undefined || !LAYER_ID.test(m.id)) {
      this.drawn = 0;
      this.order.length = 0;
      this.lines.clear();
      return `${m.status}${m.id !== undefined ? ` ${m.id}` : ''}\n`;
    }
    if (!this.lines.has(m.id)) this.order.push(m.id);
    const d = m.progressDetail;
    this.lines.set(m.id, `${m.id}: ${m.status}${d?.total !== undefined && d.current !== d.total ? ` ${bar(d.current ?? 0, d.total)}` : ''}`);
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const id of this.order) out += `\x1b[2K${this.lines.get(id)}\n`;
    this.drawn = this.order.length;
    return out;
  }
}

export function progressPrinter(out: NodeJS.WriteStream, quiet = false): (m: DistributionMessage) => void {
  if (quiet) return () => undefined;
  if (!out.isTTY) {
    return (m) => {
      const line = plainLine(m);
      if (line !== undefined) out.write(`${line}\n`);
    };
  }
  const board = new ProgressBoard();
  return (m) => {
    const text = board.render(m);
    if (text !== '') out.write(text);
  };
}
