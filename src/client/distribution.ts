// The pull and push calls of the Engine API client: a JSON request, then the streamed
// DistributionMessage lines handed to `onMessage`; resolves with the result line's aux.
import type { DistributionMessage, PullRequest, PushRequest } from '../api/distribution.js';
import { ApiError, type CunikClient } from './index.js';

type Aux = NonNullable<DistributionMessage['aux']>;

async function streamed(client: CunikClient, path: string, json: unknown, onMessage: (m: DistributionMessage) => void): Promise<Aux> {
  const res = await client.http.open('POST', path, { json });
  let result: Aux | undefined;
  let failure: ApiError | undefined;
  let rest = '';
  const handle = (line: string): void => {
    if (line.trim() === '') return;
    const m = JSON.parse(line) as DistributionMessage;
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
  if (!result) throw new Error('the transfer ended without a result (did the daemon stop?)');
  return result;
}

export const pullImage = (client: CunikClient, req: PullRequest, onMessage: (m: DistributionMessage) => void = () => undefined): Promise<Aux> =>
  streamed(client, '/v1/images/pull', req, onMessage);

export const pushImage = (client: CunikClient, ref: string, req: PushRequest, onMessage: (m: DistributionMessage) => void = () => undefined): Promise<Aux> =>
  streamed(client, `/v1/images/${encodeURIComponent(ref)}/push`, req, onMessage);
