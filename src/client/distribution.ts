// The pull and push calls of the Engine API client: a JSON request, then the streamed
// DistributionMessage lines handed to `onMessage`; resolves with the result line's aux.
import type { DistributionMessage, PullRequest, PushRequest } from '../api/distribution.js';
import type { CunikClient } from './index.js';
import { readProgress } from './progress.js';

type Aux = NonNullable<DistributionMessage['aux']>;

async function streamed(client: CunikClient, path: string, json: unknown, onMessage: (m: DistributionMessage) => void): Promise<Aux> {
  const res = await client.http.open('POST', path, { json });
  return readProgress<DistributionMessage, Aux>(res, onMessage, 'transfer');
}

export const pullImage = (client: CunikClient, req: PullRequest, onMessage: (m: DistributionMessage) => void = () => undefined): Promise<Aux> =>
  streamed(client, '/v1/images/pull', req, onMessage);

export const pushImage = (client: CunikClient, ref: string, req: PushRequest, onMessage: (m: DistributionMessage) => void = () => undefined): Promise<Aux> =>
  streamed(client, `/v1/images/${encodeURIComponent(ref)}/push`, req, onMessage);
