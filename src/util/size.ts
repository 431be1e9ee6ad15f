// Sizes as users write them, the one parser behind every flag and file that takes one (--memory,
// --log-max-size, volume --size, a Cunikfile's memory): a number, optionally with a fraction, then
// b, k, m, g or t (binary multiples, as Docker's: 10m = 10 MiB), optionally followed by i, b or ib
// ("64m", "64M", "64MiB", "64Mi", "1.5g", "4096").

const SCALE: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * Bytes, or undefined when `value` is not a size. `defaultUnit`: what a bare number counts
 * (bytes for log and volume sizes, MiB for memory). May be fractional: each caller rounds or
 * refuses as its unit needs.
 */
export function parseSize(value: string, defaultUnit: 'b' | 'm' = 'b'): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:ib|i|b)?$/i.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * SCALE[(m[2] || defaultUnit).toLowerCase()]!;
}

export const MiB = 1024 * 1024;
