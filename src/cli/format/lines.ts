// Newline-delimited JSON from a response stream, one parsed value per line.
import type { Readable } from 'node:stream';

export async function* ndjson<T>(stream: Readable): AsyncGenerator<T> {
  let rest = '';
  for await (const chunk of stream) {
    rest += (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (rest.trim()) yield JSON.parse(rest) as T;
}
