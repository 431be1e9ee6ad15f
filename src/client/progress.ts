// The streamed progress of long daemon work (build, pull, push): NDJSON lines, each handed to
// `onMessage`; an `error` line becomes the call's ApiError, the `aux` line its result.
import { ApiError } from './index.js';

interface ProgressLine<A> {
  aux?: A;
  error?: string;
  errorDetail?: { code?: string; field?: string };
}

export async function readProgress<M extends ProgressLine<A>, A>(res: AsyncIterable<unknown>, onMessage: (m: M) => void, what: string): Promise<A> {
  let result: A | undefined;
  let failure: ApiError | undefined;
  let rest = '';
  const handle = (line: string): void => {
    if (line.trim() === '') return;
    const m = JSON.parse(line) as M;
    if (m.aux) result = m.aux;
    if (m.error !== undefined) failure = new ApiError(m.errorDetail?.code === 'INTERNAL' ? 500 : 400, m.errorDetail?.code ?? 'UNKNOWN', m.error, m.errorDetail?.field);
    onMessage(m);
  };
  for await (const chunk of res) {
    rest += (chunk as Buffer).toString('utf8');
    const lines = rest.split('\n');
    rest = lines.pop()!;
    lines.forEach(handle);
  }
  handle(rest);
  if (failure) throw failure;
  if (!result) throw new Error(`the ${what} ended without a result (did the daemon stop?)`);
  return result;
}
