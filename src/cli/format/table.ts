// Column-aligned tables, as docker prints them.
// Plain loops: `cunik ps` renders 1,000 rows once per process, before V8 has optimised anything,
// where a closure per cell (map, padEnd) cost several milliseconds.
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h) => h.length);
  for (const row of rows) {
    for (let i = 0; i < row.length - 1; i++) {
      const len = row[i]!.length;
      if (len > widths[i]!) widths[i] = len;
    }
  }
  const pad = ' '.repeat(Math.max(0, ...widths) + 3);
  const line = (cells: string[]): string => {
    let text = '';
    const last = cells.length - 1;
    for (let i = 0; i < last; i++) text += cells[i]! + pad.slice(0, (widths[i] ?? 0) + 3 - cells[i]!.length);
    return (text + (cells[last] ?? '')).trimEnd() + '\n';
  };
  let out = line(headers);
  for (const row of rows) out += line(row);
  return out;
}

export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'} ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'} ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'} ago`;
  return `${Math.round(h / 24)} days ago`;
}

export function bytes(n: number): string {
  if (n < 1000) return `${n}B`;
  if (n < 1000 ** 2) return `${(n / 1000).toFixed(1)}kB`;
  if (n < 1000 ** 3) return `${(n / 1000 ** 2).toFixed(1)}MB`;
  return `${(n / 1000 ** 3).toFixed(2)}GB`;
}

export const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';
