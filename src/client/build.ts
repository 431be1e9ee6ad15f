// The build call of the Engine API client: POST /v1/build with the context tar as the body,
// then the streamed BuildMessage lines handed to `onMessage`; resolves with the image built.
import type { Readable } from 'node:stream';
import type { BuildMessage } from '../api/build.js';
import type { CunikClient } from './index.js';
import { readProgress } from './progress.js';
import { ApiError } from './http.js';

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
  return readProgress<BuildMessage, { id: string; ref: string }>(res, onMessage, 'build');
}

/**
 * Which of these context file digests the daemon lacks (POST /v1/build/context/missing); every one
 * when the daemon predates the call (it then gets every file in the context).
 */
export async function missingContextFiles(client: CunikClient, digests: string[]): Promise<string[]> {
  if (digests.length === 0) return [];
  try {
    return (await client.http.json<{ missing: string[] }>('POST', '/v1/build/context/missing', { json: { digests } })).missing;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return digests;
    throw err;
  }
}
