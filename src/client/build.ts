// The build call of the Engine API client: POST /v1/build with the context tar as the body,
// then the streamed BuildMessage lines handed to `onMessage`; resolves with the image built.
import type { Readable } from 'node:stream';
import type { BuildMessage } from '../api/build.js';
import { ApiError, type CunikClient } from './index.js';

export interface BuildParams {
  tag: string;
  file?: string;
  noCache?: boolean;
}

export async function buildImage(
  client: CunikClient, context: Readable, p: BuildParams, onMessage: (m: BuildMessage) => void = () => undefined,
): Promise<{ id: string; ref: string }> {
  const res = await client.http.open('POST', '/v1/build', {
    body: context,
    contentType: 'application/x-tar',
    query: { t: p.tag, file: p.file, nocache: p.noCache || undefined },
  });
  let result: { id: string; ref: string } | undefined;
  let failure: ApiError | undefined;
  let rest = '';
  const handle = (line: string): void => {
    if (line.trim() === '') return;
    const m = JSON.parse(line) as BuildMessage;
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
  if (!result) throw new Error('the build ended without a result (did the daemon stop?)');
  return result;
}
