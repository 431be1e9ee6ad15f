// Column-aligned tables, as docker prints them.
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
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
